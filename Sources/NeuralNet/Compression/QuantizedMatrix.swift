import TensorCore

/// A weight matrix in symmetric int8 with one Float32 scale per row (output
/// channel): `w[i, j] ≈ scale[i] · q[i, j]`, `q` in `-127...127`.
///
/// Per-row scales follow each output unit's own range, so one large row
/// does not coarsen the grid of all the others. The grid is symmetric
/// around 0 (no zero point), so an exact zero stays exactly zero and pruned
/// weights stay pruned.
public struct QuantizedMatrix: Sendable, Equatable {
    /// Rows (output features).
    public let rows: Int
    /// Columns (input features).
    public let columns: Int
    /// The quantized values, row-major.
    public let values: [Int8]
    /// One scale per row.
    public let scales: [Float]
    /// The sum of each row's codes, which the int8 product subtracts once
    /// per activation zero point (``Kernels/int8LinearForward(out:input:weight:bias:rows:scratch:)``).
    public let codeSums: [Int32]

    /// A matrix from stored parts.
    ///
    /// - Parameters:
    ///   - rows: Rows.
    ///   - columns: Columns.
    ///   - values: `rows · columns` quantized values, row-major.
    ///   - scales: `rows` non-negative scales.
    public init(rows: Int, columns: Int, values: [Int8], scales: [Float]) {
        precondition(rows > 0 && columns > 0, "QuantizedMatrix: sizes must be positive, got \(rows)x\(columns)")
        precondition(values.count == rows * columns,
                     "QuantizedMatrix: \(values.count) values for a \(rows)x\(columns) matrix")
        precondition(scales.count == rows, "QuantizedMatrix: \(scales.count) scales for \(rows) rows")
        (self.rows, self.columns, self.values, self.scales) = (rows, columns, values, scales)
        codeSums = (0..<rows).map { i in values[(i * columns)..<((i + 1) * columns)].reduce(0) { $0 + Int32($1) } }
    }

    /// Runs `body` with the matrix as the int8 kernels read it.
    public func withView<Result>(_ body: (Int8WeightView) throws -> Result) rethrows -> Result {
        try values.withUnsafeBufferPointer { codes in
            try scales.withUnsafeBufferPointer { scales in
                try codeSums.withUnsafeBufferPointer { sums in
                    try body(Int8WeightView(codes: codes.baseAddress!, scales: scales.baseAddress!,
                                            codeSums: sums.baseAddress!, outputs: rows, inputs: columns))
                }
            }
        }
    }

    /// Quantizes `weight` `[rows, columns]` (or any rank, rows being the
    /// first dimension): `scale = max|row| / 127`, `q = round(w / scale)`.
    ///
    /// Rounding to the nearest grid point bounds the error of every element
    /// by half a step: `|w - scale · q| ≤ scale / 2`.
    public init(quantizing weight: Tensor) {
        precondition(weight.rank >= 2, "QuantizedMatrix: expected a matrix, got shape \(weight.shape)")
        let rows = weight.shape[0], columns = weight.count / weight.shape[0]
        var values = [Int8](repeating: 0, count: rows * columns)
        var scales = [Float](repeating: 0, count: rows)
        let w = weight.pointer
        values.withUnsafeMutableBufferPointer { q in
            for i in 0..<rows {
                let row = w + i * columns
                var largest: Float = 0
                for j in 0..<columns { largest = max(largest, abs(row[j])) }
                // An all-zero row keeps scale 0 and all-zero codes.
                guard largest > 0 else { continue }
                let scale = largest / 127
                let inverse = 1 / scale
                scales[i] = scale
                for j in 0..<columns {
                    let code = (row[j] * inverse).rounded(.toNearestOrEven)
                    q[i * columns + j] = Int8(max(-127, min(127, code)))
                }
            }
        }
        self.init(rows: rows, columns: columns, values: values, scales: scales)
    }

    /// Bytes the quantized form takes: one per value and four per scale.
    public var byteCount: Int { values.count + 4 * scales.count }

    /// Writes rows `range` as Float32 into `destination`, row-major.
    ///
    /// - Parameters:
    ///   - range: Rows to expand.
    ///   - destination: Room for `range.count · columns` floats.
    public func dequantize(rows range: Range<Int>, into destination: UnsafeMutablePointer<Float>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows,
                     "QuantizedMatrix: rows \(range) outside 0..<\(rows)")
        values.withUnsafeBufferPointer { q in
            scales.withUnsafeBufferPointer { s in
                let codes = q.baseAddress!
                for i in range {
                    let scale = s[i]
                    let source = codes + i * columns
                    let target = destination + (i - range.lowerBound) * columns
                    for j in 0..<columns { target[j] = Float(source[j]) * scale }
                }
            }
        }
    }

    /// The whole matrix in Float32, `[rows, columns]`.
    public func dequantized() -> Tensor {
        let out = Tensor(zeros: [rows, columns])
        dequantize(rows: 0..<rows, into: out.pointer)
        return out
    }
}
