// Float reductions and e^x for the hot loops of every model. Float
// reductions written as plain loops stay scalar (the compiler may not
// reassociate additions); these sum in SIMD lanes, a fixed and
// deterministic order, and finish the tail one element at a time.

extension Kernels {
    /// `e^x` to about 2 ulp for the range softmax and GELU need, written
    /// with plain arithmetic and bit casts so that loops calling it
    /// vectorize (a libm call per element would dominate attention and GELU).
    ///
    /// Inputs below -87 flush towards 2^-126 and above 88 saturate near 2^127.
    @inlinable @inline(__always)
    public static func fastExp(_ x: Float) -> Float {
        let clamped = x < -87 ? -87 : (x > 88 ? 88 : x)
        // Adding 1.5 * 2^23 rounds to the nearest integer and leaves it in the
        // low mantissa bits, avoiding a checked Float -> Int conversion.
        let shifter: Float = 12_582_912
        let t = clamped * 1.442_695_04 + shifter
        let n = t - shifter
        // Cody-Waite: ln 2 split so that n * high is exact.
        let r = clamped - n * 0.693_145_751_953_125 - n * 1.428_606_765_330_187e-6
        var p: Float = 1.388_888_9e-3
        p = p * r + 8.333_333_3e-3
        p = p * r + 4.166_666_8e-2
        p = p * r + 0.166_666_67
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        let scale = Float(bitPattern: (t.bitPattern &- 0x4B3F_FF81) << 23)
        return p * scale
    }

    /// `Σ element(x[i])` over `count` values in 16 Float lanes: `lane` maps
    /// 16 values at a time, `element` one value of the tail, and both must
    /// compute the same function. The one loop behind the Float reductions.
    @inlinable @inline(__always)
    public static func laneReduce(
        _ x: UnsafePointer<Float>, count: Int,
        lane: (SIMD16<Float>) -> SIMD16<Float>, element: (Float) -> Float
    ) -> Float {
        var lanes = SIMD16<Float>()
        var i = 0
        while i + 16 <= count {
            lanes += lane(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self))
            i += 16
        }
        var total = lanes.sum()
        while i < count {
            total += element(x[i])
            i += 1
        }
        return total
    }

    /// The Float sum of `count` values, in 16 lanes (see ``sum(_:count:)``
    /// for the Double sum of a whole gradient buffer).
    @inlinable @inline(__always)
    public static func laneSum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        laneReduce(x, count: count, lane: { $0 }, element: { $0 })
    }

    /// The dot product of two runs of `count` values, in 16 lanes.
    @inlinable @inline(__always)
    public static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = SIMD16<Float>()
        var i = 0
        while i + 16 <= count {
            lanes += UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
                * UnsafeRawPointer(y + i).loadUnaligned(as: SIMD16<Float>.self)
            i += 16
        }
        var total = lanes.sum()
        while i < count {
            total += x[i] * y[i]
            i += 1
        }
        return total
    }

    /// The sum of squared deviations of `count` values from `mean`, in 16 lanes.
    @inlinable @inline(__always)
    public static func squaredDeviations(_ x: UnsafePointer<Float>, mean: Float, count: Int) -> Float {
        let m = SIMD16<Float>(repeating: mean)
        return laneReduce(x, count: count, lane: { let d = $0 - m; return d * d }, element: { let d = $0 - mean; return d * d })
    }
}
