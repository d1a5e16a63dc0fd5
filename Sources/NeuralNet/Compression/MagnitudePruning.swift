import TensorCore

/// Which weights compete for removal in magnitude pruning.
public enum PruningScope: String, Sendable, CaseIterable {
    /// One threshold over all weight matrices together: layers with many
    /// small weights lose more of them.
    case global
    /// Every weight matrix pruned to the same sparsity on its own.
    case layer
}

/// Which elements of a ``ParameterStore`` survive pruning: a flat buffer in
/// the store's layout, 1 where a value is kept and 0 where it is removed.
///
/// Multiplying the values by the mask after each optimizer step keeps a
/// fine-tuned model exactly as sparse as the pruning left it, whatever the
/// optimizer's momentum or weight decay would do to the removed weights.
public struct PruningMask: @unchecked Sendable {
    /// 1 for kept elements, 0 for pruned ones, in the store's flat layout.
    public let keep: Tensor
    /// The parameters that were candidates for pruning.
    public let parameters: [ParameterInfo]
    /// Elements removed.
    public let prunedCount: Int
    /// Elements of the candidate parameters.
    public let candidateCount: Int

    /// The fraction of candidate elements removed.
    public var sparsity: Double {
        candidateCount == 0 ? 0 : Double(prunedCount) / Double(candidateCount)
    }

    /// Zeroes the pruned elements of `store`.
    ///
    /// - Parameter store: A store with the layout the mask was made for.
    public func apply(to store: ParameterStore) {
        precondition(store.count == keep.count,
                     "PruningMask: mask of \(keep.count) elements applied to a store of \(store.count)")
        let values = store.values.pointer, mask = keep.pointer
        for p in parameters {
            for i in p.range { values[i] *= mask[i] }
        }
    }
}

/// Unstructured magnitude pruning: removing the weights of smallest absolute
/// value, which perturbs a trained network the least to first order.
public enum MagnitudePruning {
    /// The parameters pruning applies to: weight matrices and convolution
    /// kernels, never biases or normalization gains.
    public static func candidates(in store: ParameterStore) -> [ParameterInfo] {
        store.parameters.filter { $0.decays && $0.shape.count >= 2 }
    }

    /// Chooses the weights to remove.
    ///
    /// Exactly `round(sparsity · n)` elements are pruned out of the `n`
    /// candidates (per matrix with ``PruningScope/layer``): elements below the
    /// threshold magnitude go first, and ties at the threshold are broken in
    /// layout order, so the count never overshoots when many weights share a
    /// value (zeros, or a quantized model).
    ///
    /// - Parameters:
    ///   - store: The trained parameters.
    ///   - sparsity: The fraction to remove, in `0...1`.
    ///   - scope: One threshold over all matrices, or one per matrix.
    ///   - parameters: The candidates; defaults to ``candidates(in:)``.
    /// - Returns: The mask; `store` is not changed (see ``PruningMask/apply(to:)``).
    public static func mask(for store: ParameterStore, sparsity: Double, scope: PruningScope,
                            parameters: [ParameterInfo]? = nil) -> PruningMask {
        precondition(sparsity >= 0 && sparsity <= 1, "MagnitudePruning: sparsity must be in 0...1, got \(sparsity)")
        let chosen = parameters ?? candidates(in: store)
        let keep = Tensor(repeating: 1, shape: [store.count])
        var pruned = 0
        switch scope {
        case .global:
            pruned = prune(ranges: chosen.map(\.range), sparsity: sparsity, values: store.values.pointer, keep: keep.pointer)
        case .layer:
            for p in chosen {
                pruned += prune(ranges: [p.range], sparsity: sparsity, values: store.values.pointer, keep: keep.pointer)
            }
        }
        return PruningMask(keep: keep, parameters: chosen, prunedCount: pruned,
                           candidateCount: chosen.reduce(0) { $0 + $1.count })
    }

    /// The fraction of exact zeros among the elements of `parameters`.
    public static func sparsity(of store: ParameterStore, parameters: [ParameterInfo]? = nil) -> Double {
        let chosen = parameters ?? candidates(in: store)
        let values = store.values.pointer
        var zeros = 0, total = 0
        for p in chosen {
            for i in p.range where values[i] == 0 { zeros += 1 }
            total += p.count
        }
        return total == 0 ? 0 : Double(zeros) / Double(total)
    }

    /// Marks the `round(sparsity · n)` smallest magnitudes of `ranges` as pruned.
    private static func prune(ranges: [Range<Int>], sparsity: Double, values: UnsafeMutablePointer<Float>,
                              keep: UnsafeMutablePointer<Float>) -> Int {
        let n = ranges.reduce(0) { $0 + $1.count }
        let target = Int((sparsity * Double(n)).rounded())
        guard target > 0 else { return 0 }
        var magnitudes = [Float]()
        magnitudes.reserveCapacity(n)
        for range in ranges {
            for i in range { magnitudes.append(abs(values[i])) }
        }
        magnitudes.sort()
        let threshold = magnitudes[target - 1]
        // Everything strictly below the threshold goes; the rest of the
        // quota comes from the elements equal to it, first in layout order.
        var below = 0
        while below < target && magnitudes[below] < threshold { below += 1 }
        var tiesToPrune = target - below
        var pruned = 0
        for range in ranges {
            for i in range {
                let m = abs(values[i])
                if m < threshold || (m == threshold && tiesToPrune > 0) {
                    if m == threshold { tiesToPrune -= 1 }
                    keep[i] = 0
                    pruned += 1
                }
            }
        }
        return pruned
    }
}
