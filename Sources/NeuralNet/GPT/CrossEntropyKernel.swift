import TensorCore
extension GPTKernels {
    /// What ``crossEntropyForward(probabilities:targets:rows:vocab:)`` measured.
    public struct CrossEntropySums: Sendable, Equatable {
        /// The summed loss over the counted rows.
        public var loss: Double
        /// Counted rows whose argmax is the target.
        public var correct: Int
        /// Rows with a non-negative target.
        public var count: Int
    }

    /// Fused softmax and cross-entropy: turns logits into probabilities in place
    /// and sums `-log p[target]` over rows whose target is not negative.
    ///
    /// - Parameters:
    ///   - probabilities: `[rows, vocab]` logits in, probabilities out.
    ///   - targets: `[rows]` ids in `0..<vocab`, or negative to ignore the row.
    /// - Returns: The loss sum, the argmax hits and the counted rows.
    public static func crossEntropyForward(
        probabilities: UnsafeMutablePointer<Float>, targets: UnsafePointer<Int32>,
        rows: Int, vocab: Int
    ) -> CrossEntropySums {
        var sums = CrossEntropySums(loss: 0, correct: 0, count: 0)
        for r in 0..<rows {
            let p = probabilities + r * vocab
            let best = Kernels.argmax(p, count: vocab)
            let target = Int(targets[r])
            precondition(target < vocab, "cross-entropy: target \(target) outside vocabulary of \(vocab)")
            let targetLogit = target >= 0 ? p[target] : 0
            let normalizer = Kernels.softmaxRow(p, into: p, count: vocab)
            if target < 0 { continue }
            // From the logit rather than log(p), which fails when p underflows.
            sums.loss += Double(naturalLog(normalizer.total) - (targetLogit - normalizer.maximum))
            sums.count += 1
            if best == target { sums.correct += 1 }
        }
        return sums
    }

    /// Back-propagates the loss scaled by `scale` (1 / counted rows for a mean):
    /// `dlogits = scale * (p - onehot(target))`, and zero for ignored rows.
    ///
    /// - Parameters:
    ///   - probabilities: `[rows, vocab]` from forward in, logit gradients out.
    ///   - targets: As in forward.
    public static func crossEntropyBackward(
        probabilities: UnsafeMutablePointer<Float>, targets: UnsafePointer<Int32>,
        rows: Int, vocab: Int, scale: Float
    ) {
        for r in 0..<rows {
            let p = probabilities + r * vocab
            let target = Int(targets[r])
            if target < 0 {
                p.update(repeating: 0, count: vocab)
                continue
            }
            for v in 0..<vocab { p[v] *= scale }
            p[target] -= scale
        }
    }
}

#if canImport(Glibc)
import Glibc
private func naturalLog(_ x: Float) -> Float { Glibc.logf(x) }
#elseif canImport(Darwin)
import Darwin
private func naturalLog(_ x: Float) -> Float { Darwin.logf(x) }
#endif
