// Out-of-place 2-D transpose, for layouts sgemm's transpose flags cannot
// absorb (e.g. NCHW <-> NHWC-like reorderings after a lowered convolution).

extension Kernels {
    /// `out[c, r] = x[r, c]` for a `rows x columns` row-major `x`;
    /// `out` is `columns x rows`. `out` must not overlap `x`.
    @inlinable
    public static func transpose(
        _ x: UnsafePointer<Float>, rows: Int, columns: Int,
        into out: UnsafeMutablePointer<Float>
    ) {
        precondition(rows >= 0 && columns >= 0, "Kernels.transpose: negative shape \(rows) x \(columns)")
        // Tiles keep both the reads and the strided writes within a few
        // cache lines; a naive loop thrashes on large matrices.
        let tile = 32
        var r0 = 0
        while r0 < rows {
            let r1 = Swift.min(r0 + tile, rows)
            var c0 = 0
            while c0 < columns {
                let c1 = Swift.min(c0 + tile, columns)
                for r in r0..<r1 {
                    for c in c0..<c1 { out[c * rows + r] = x[r * columns + c] }
                }
                c0 = c1
            }
            r0 = r1
        }
    }
}

extension Tensor {
    /// A new 2-D tensor holding the transpose of this 2-D tensor.
    public func transposed() -> Tensor {
        precondition(rank == 2, "Tensor.transposed: expected a 2-D tensor, got \(shape)")
        let out = Tensor(zeros: [shape[1], shape[0]])
        Kernels.transpose(pointer, rows: shape[0], columns: shape[1], into: out.pointer)
        return out
    }
}
