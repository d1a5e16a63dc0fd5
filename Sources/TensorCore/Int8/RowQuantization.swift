// Dynamic quantization of activations: each row (one sample, one token or
// one convolution patch) gets its own affine uint8 grid at run time, so a
// row of small values is not coarsened by a large one elsewhere in the batch.

extension Kernels {
    /// Quantizes each row of `x` onto its own grid of `levels + 1` codes:
    /// `x ≈ scale · (code − zeroPoint)`.
    ///
    /// The grid spans `[min(0, min x), max(0, max x)]`, so 0 is a code and
    /// an all-non-negative row (after ReLU) uses every code for its range;
    /// each value is off by at most half a step, `scale / 2`. An all-zero
    /// row gets scale 0 and codes 0.
    ///
    /// - Parameters:
    ///   - x: `rows` rows of `columns` finite values, `stride` apart.
    ///   - rows, columns: The sizes.
    ///   - stride: The distance between rows of `x`; `columns` by default.
    ///   - levels: The largest code (``Int8Product/activationLevels``).
    ///   - codes: `rows · columns` codes, row-major, written.
    ///   - scales, zeroPoints: `rows` each, written.
    @inlinable
    public static func quantizeRows(
        _ x: UnsafePointer<Float>, rows: Int, columns: Int, stride: Int? = nil, levels: Int32,
        codes: UnsafeMutablePointer<UInt8>, scales: UnsafeMutablePointer<Float>,
        zeroPoints: UnsafeMutablePointer<Int32>
    ) {
        let stride = stride ?? columns
        for r in 0..<rows {
            let row = x + r * stride
            let out = codes + r * columns
            let (lo, hi) = range(row, count: columns)
            guard hi > lo else {
                scales[r] = 0
                zeroPoints[r] = 0
                out.update(repeating: 0, count: columns)
                continue
            }
            let scale = (hi - lo) / Float(levels)
            let inverse = 1 / scale
            let zero = Swift.min(levels, Swift.max(0, Int32((-lo * inverse).rounded(.toNearestOrEven))))
            scales[r] = scale
            zeroPoints[r] = zero
            // Adding 1.5 · 2²³ leaves round-to-nearest-even of `v` in the low
            // mantissa bits, read back by reinterpreting them (for |v| < 2²²):
            // a float add and an integer subtract the compiler vectorizes,
            // where `Int32(v.rounded())` stays a scalar call per element.
            let offset = zero &- 0x4B40_0000
            for i in 0..<columns {
                let q = Int32(bitPattern: (row[i] * inverse + 12_582_912).bitPattern) &+ offset
                out[i] = UInt8(truncatingIfNeeded: q < 0 ? 0 : (q > levels ? levels : q))
            }
        }
    }

    /// `(min(0, min x), max(0, max x))` of `count` finite values.
    ///
    /// Compared as bit patterns, which the compiler vectorizes (a Float
    /// `min` reduction it may not reorder): non-negative floats order as
    /// their bits do as signed integers, negative ones by magnitude as
    /// their bits do as unsigned integers, above every non-negative one.
    @inlinable
    static func range(_ x: UnsafePointer<Float>, count: Int) -> (low: Float, high: Float) {
        var signedMax: Int32 = 0, unsignedMax: UInt32 = 0
        for i in 0..<count {
            let bits = x[i].bitPattern
            let signed = Int32(bitPattern: bits)
            signedMax = signed > signedMax ? signed : signedMax
            unsignedMax = bits > unsignedMax ? bits : unsignedMax
        }
        let high = Float(bitPattern: UInt32(bitPattern: signedMax))
        let low = unsignedMax >= 0x8000_0000 ? Float(bitPattern: unsignedMax) : 0
        return (low, high)
    }
}
