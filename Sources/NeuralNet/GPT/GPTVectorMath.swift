extension GPTKernels {
    // Float reductions in plain loops stay scalar: the compiler may not
    // reassociate additions. These sum in SIMD lanes (a fixed, deterministic
    // order) and finish the tail one element at a time.

    /// The sum of `count` values.
    @inlinable @inline(__always)
    static func sum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = SIMD16<Float>()
        var i = 0
        while i + 16 <= count {
            lanes += UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
            i += 16
        }
        var total = lanes.sum()
        while i < count {
            total += x[i]
            i += 1
        }
        return total
    }

    /// The dot product of two runs of `count` values.
    @inlinable @inline(__always)
    static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Float {
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

    /// The sum of squared deviations from `mean`.
    @inlinable @inline(__always)
    static func squaredDeviations(_ x: UnsafePointer<Float>, mean: Float, count: Int) -> Float {
        var lanes = SIMD16<Float>()
        let m = SIMD16<Float>(repeating: mean)
        var i = 0
        while i + 16 <= count {
            let d = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self) - m
            lanes += d * d
            i += 16
        }
        var total = lanes.sum()
        while i < count {
            let d = x[i] - mean
            total += d * d
            i += 1
        }
        return total
    }

    /// The largest of `count > 0` values.
    @inlinable @inline(__always)
    static func maximum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var i = 0
        var best = x[0]
        if count >= 8 {
            // A masked replace lowers to compare-and-blend; the generic
            // `pointwiseMax` goes lane by lane through memory.
            var lanes = UnsafeRawPointer(x).loadUnaligned(as: SIMD8<Float>.self)
            i = 8
            while i + 8 <= count {
                let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
                lanes.replace(with: v, where: v .> lanes)
                i += 8
            }
            best = lanes.max()
        }
        while i < count {
            if x[i] > best { best = x[i] }
            i += 1
        }
        return best
    }
}
