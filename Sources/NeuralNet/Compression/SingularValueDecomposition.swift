import CBLAS
import TensorCore

/// Why a LAPACK routine failed.
public enum LinearAlgebraError: Error, Equatable, CustomStringConvertible {
    /// The SVD iteration did not converge (LAPACK `INFO > 0`).
    case noConvergence(routine: String, info: Int32)
    /// LAPACK rejected an argument (`INFO < 0`: the argument's position).
    case invalidArgument(routine: String, info: Int32)

    public var description: String {
        switch self {
        case .noConvergence(let routine, let info):
            return "\(routine): the singular value iteration did not converge (INFO \(info))"
        case .invalidArgument(let routine, let info):
            return "\(routine): argument \(-info) was invalid"
        }
    }
}

/// The thin singular value decomposition `W = L diag(S) Rᵀ` of a row-major
/// matrix, from LAPACK's divide-and-conquer `sgesdd` in OpenBLAS.
public struct SingularValueDecomposition: @unchecked Sendable {
    /// Left singular vectors as columns, `[rows, p]` with `p = min(rows, columns)`.
    public let left: Tensor
    /// Singular values, largest first, `p` of them.
    public let singularValues: [Float]
    /// Right singular vectors as rows, `[p, columns]`.
    public let rightTransposed: Tensor

    /// Decomposes `matrix` `[rows, columns]`; the matrix is not changed.
    ///
    /// - Throws: ``LinearAlgebraError`` when LAPACK fails.
    public init(_ matrix: Tensor) throws {
        precondition(matrix.rank == 2 && matrix.count > 0,
                     "SingularValueDecomposition: expected a non-empty matrix, got shape \(matrix.shape)")
        let rows = matrix.shape[0], columns = matrix.shape[1]
        let p = min(rows, columns)
        // LAPACK is column-major: the row-major W is the column-major Wᵀ
        // (columns x rows). From Wᵀ = U S VT follows W = VTᵀ S Uᵀ, and the
        // column-major VT (p x rows) and U (columns x p) are, read row-major,
        // exactly L [rows, p] and Rᵀ [p, columns]: no transposes needed.
        let a = matrix.clone()
        let left = Tensor(zeros: [rows, p])
        let rightTransposed = Tensor(zeros: [p, columns])
        var singularValues = [Float](repeating: 0, count: p)
        var iwork = [Int32](repeating: 0, count: 8 * p)
        let m = Int32(columns), n = Int32(rows)
        var query: Float = 0
        var info = singularValues.withUnsafeMutableBufferPointer { s in
            iwork.withUnsafeMutableBufferPointer { iw in
                lapack_shim_sgesdd_thin(m, n, a.pointer, m, s.baseAddress, rightTransposed.pointer, m,
                                        left.pointer, Int32(p), &query, -1, iw.baseAddress)
            }
        }
        try Self.check(info)
        let workCount = max(Int(query), 1)
        var work = [Float](repeating: 0, count: workCount)
        info = singularValues.withUnsafeMutableBufferPointer { s in
            iwork.withUnsafeMutableBufferPointer { iw in
                work.withUnsafeMutableBufferPointer { w in
                    lapack_shim_sgesdd_thin(m, n, a.pointer, m, s.baseAddress, rightTransposed.pointer, m,
                                            left.pointer, Int32(p), w.baseAddress, Int32(workCount), iw.baseAddress)
                }
            }
        }
        try Self.check(info)
        (self.left, self.singularValues, self.rightTransposed) = (left, singularValues, rightTransposed)
    }

    private static func check(_ info: Int32) throws {
        if info < 0 { throw LinearAlgebraError.invalidArgument(routine: "sgesdd", info: info) }
        if info > 0 { throw LinearAlgebraError.noConvergence(routine: "sgesdd", info: info) }
    }
}
