// The int8 fully connected layer, `out = input · Wᵀ + bias` with W held as
// int8 codes and one scale per output channel: the activations are
// quantized per row (Kernels.quantizeRows), multiplied in integers
// (int8Product), and brought back to Float32 with both scales in one pass
// that also folds in each row's zero point and the bias.
//
// With x ≈ sx · (u − z) per row and w[j] ≈ sw[j] · q[j]:
//   x · w[j] ≈ sx · sw[j] · (Σ u q[j] − z · Σ q[j]),
// where Σ q[j] (the weight's code sums) is fixed and computed once.

/// The buffers int8 products need besides their operands, grown to the
/// largest call and then reused: no allocation in the hot path.
public final class Int8Scratch {
    /// Activation codes, one row per product row.
    let codes = GrowingBuffer<UInt8>()
    /// A convolution's input codes, before they are gathered into rows.
    let imageCodes = GrowingBuffer<UInt8>()
    /// A convolution's rows of signed codes.
    let signedCodes = GrowingBuffer<Int8>()
    /// The integer sums.
    let sums = GrowingBuffer<Int32>()
    /// One row of a convolution's column maxima, for its fused pooling.
    let poolRow = GrowingBuffer<Int32>()
    /// Each row's activation grid.
    let rowScales = GrowingBuffer<Float>()
    let rowZeros = GrowingBuffer<Int32>()

    public init() {}
}

/// A buffer that only grows; its contents are undefined after growing.
final class GrowingBuffer<Element> {
    private(set) var pointer = UnsafeMutablePointer<Element>.allocate(capacity: 1)
    private var capacity = 1

    deinit { pointer.deallocate() }

    /// Room for `count` elements.
    func reserve(_ count: Int) -> UnsafeMutablePointer<Element> {
        if count > capacity {
            pointer.deallocate()
            pointer = .allocate(capacity: count)
            capacity = count
        }
        return pointer
    }
}

/// An int8 weight matrix as the kernels read it: borrowed pointers, valid
/// while their owner (a `QuantizedMatrix`) lives.
public struct Int8WeightView {
    /// `[outputs, inputs]` codes.
    public let codes: UnsafePointer<Int8>
    /// `[outputs]` scales.
    public let scales: UnsafePointer<Float>
    /// `[outputs]` sums of each output channel's codes.
    public let codeSums: UnsafePointer<Int32>
    public let outputs: Int
    public let inputs: Int

    public init(codes: UnsafePointer<Int8>, scales: UnsafePointer<Float>, codeSums: UnsafePointer<Int32>,
                outputs: Int, inputs: Int) {
        (self.codes, self.scales, self.codeSums, self.outputs, self.inputs) = (codes, scales, codeSums, outputs, inputs)
    }
}

extension Kernels {
    /// `out[rows, outputs] = input[rows, inputs] · Wᵀ + bias` with int8 `W`
    /// and activations quantized per row at run time.
    ///
    /// - Parameters:
    ///   - out: `[rows, outputs]`, overwritten.
    ///   - input: `[rows, inputs]`, finite.
    ///   - weight: The int8 weight.
    ///   - bias: `[outputs]`, or nil.
    ///   - rows: The batch.
    ///   - scratch: Reused buffers.
    public static func int8LinearForward(
        out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, weight: Int8WeightView,
        bias: UnsafePointer<Float>?, rows: Int, scratch: Int8Scratch
    ) {
        let (n, k) = (weight.outputs, weight.inputs)
        let codes = scratch.codes.reserve(rows * k), sums = scratch.sums.reserve(rows * n)
        let scales = scratch.rowScales.reserve(rows), zeros = scratch.rowZeros.reserve(rows)
        quantizeRows(input, rows: rows, columns: k, levels: Int8Product.activationLevels,
                     codes: codes, scales: scales, zeroPoints: zeros)
        int8Product(m: rows, n: n, k: k, a: codes, b: weight.codes, c: sums)
        dequantizeProduct(sums, rows: rows, columns: n, rowScales: scales, rowZeros: zeros,
                          weight: weight, bias: bias, into: out)
    }

    /// `out = rowScale · columnScale · (sums − rowZero · codeSum) + bias`:
    /// the Float32 result of an integer product, `[rows, columns]` row-major.
    ///
    /// - Parameters:
    ///   - sums: `[rows, columns]` integer sums.
    ///   - rowScales, rowZeros: The activation grid of each row.
    ///   - weight: Gives the scale and code sum of each column (output channel).
    ///   - bias: `[columns]`, or nil.
    ///   - out: `[rows, columns]`, overwritten.
    @inlinable
    static func dequantizeProduct(
        _ sums: UnsafePointer<Int32>, rows: Int, columns: Int,
        rowScales: UnsafePointer<Float>, rowZeros: UnsafePointer<Int32>,
        weight: Int8WeightView, bias: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>
    ) {
        let (scales, codeSums) = (weight.scales, weight.codeSums)
        for r in 0..<rows {
            let (rowScale, zero) = (rowScales[r], rowZeros[r])
            let (s, o) = (sums + r * columns, out + r * columns)
            if let bias {
                for j in 0..<columns { o[j] = rowScale * scales[j] * Float(s[j] &- zero &* codeSums[j]) + bias[j] }
            } else {
                for j in 0..<columns { o[j] = rowScale * scales[j] * Float(s[j] &- zero &* codeSums[j]) }
            }
        }
    }
}
