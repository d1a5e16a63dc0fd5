import TensorCore

/// How many singular values a low-rank factorization keeps.
public enum RankChoice: Sendable, Equatable {
    /// The smallest rank whose singular values hold at least this fraction
    /// of the total energy `Σ sᵢ²` (the squared Frobenius norm).
    case energy(Double)
    /// A fixed rank (capped at `min(rows, columns)`).
    case fixed(Int)
}

/// A matrix `W [rows, columns] ≈ u · v` with `u [rows, r]` and `v [r, columns]`.
///
/// For a Linear layer `y = x Wᵀ + b` this is two layers: `h = x vᵀ`
/// (`columns → r`, no bias) then `y = h uᵀ + b` (`r → rows`), costing
/// `r · (rows + columns)` weights instead of `rows · columns`.
public struct LowRankFactors: @unchecked Sendable {
    /// `L_r diag(S_r)`, `[rows, r]`.
    public let u: Tensor
    /// `R_rᵀ`, `[r, columns]`.
    public let v: Tensor
    /// All singular values of the original matrix, largest first.
    public let singularValues: [Float]

    /// The kept rank `r`.
    public var rank: Int { v.shape[0] }

    /// `Σ sᵢ²` over the dropped singular values: by the Eckart–Young theorem
    /// the squared Frobenius norm of `W - u·v`.
    public var droppedEnergy: Double {
        singularValues[rank...].reduce(0) { $0 + Double($1) * Double($1) }
    }

    /// The fraction of `Σ sᵢ²` the kept singular values hold.
    public var keptEnergyFraction: Double {
        let total = singularValues.reduce(0) { $0 + Double($1) * Double($1) }
        return total == 0 ? 1 : 1 - droppedEnergy / total
    }

    /// `u · v`, `[rows, columns]`.
    public func reconstructed() -> Tensor {
        matmul(u, v)
    }
}

/// Truncated-SVD factorization of weight matrices.
public enum LowRankFactorization {
    /// The rank `choice` keeps of `singularValues` (largest first), at least 1.
    public static func rank(of singularValues: [Float], choice: RankChoice) -> Int {
        precondition(!singularValues.isEmpty, "LowRankFactorization: no singular values")
        switch choice {
        case .fixed(let r):
            precondition(r > 0, "LowRankFactorization: rank must be positive, got \(r)")
            return min(r, singularValues.count)
        case .energy(let fraction):
            precondition(fraction > 0 && fraction <= 1, "LowRankFactorization: energy must be in (0, 1], got \(fraction)")
            let energies = singularValues.map { Double($0) * Double($0) }
            let total = energies.reduce(0, +)
            guard total > 0 else { return 1 }
            var kept = 0.0
            for (i, e) in energies.enumerated() {
                kept += e
                // A relative slack keeps a fraction of exactly 1 from
                // demanding the last, rounding-sized singular values.
                if kept >= fraction * total * (1 - 1e-6) { return i + 1 }
            }
            return energies.count
        }
    }

    /// Whether rank `rank` stores fewer weights than the dense `rows x columns`.
    public static func savesParameters(rows: Int, columns: Int, rank: Int) -> Bool {
        rank * (rows + columns) < rows * columns
    }

    /// Factorizes `weight` `[rows, columns]` by a truncated SVD.
    ///
    /// - Parameters:
    ///   - weight: The matrix.
    ///   - choice: How many singular values to keep.
    /// - Returns: The factors, or `nil` when the chosen rank would not store
    ///   fewer weights than the matrix itself.
    /// - Throws: ``LinearAlgebraError`` when LAPACK fails.
    public static func factorize(_ weight: Tensor, choice: RankChoice) throws -> LowRankFactors? {
        precondition(weight.rank == 2, "LowRankFactorization: expected a matrix, got shape \(weight.shape)")
        let rows = weight.shape[0], columns = weight.shape[1]
        let svd = try SingularValueDecomposition(weight)
        let r = rank(of: svd.singularValues, choice: choice)
        guard savesParameters(rows: rows, columns: columns, rank: r) else { return nil }
        let p = svd.singularValues.count
        let u = Tensor(zeros: [rows, r])
        let left = svd.left.pointer, up = u.pointer
        for i in 0..<rows {
            for k in 0..<r { up[i * r + k] = left[i * p + k] * svd.singularValues[k] }
        }
        let v = Tensor(zeros: [r, columns])
        v.pointer.update(from: svd.rightTransposed.pointer, count: r * columns)
        return LowRankFactors(u: u, v: v, singularValues: svd.singularValues)
    }
}
