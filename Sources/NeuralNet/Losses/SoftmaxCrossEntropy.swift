import TensorCore
#if canImport(Glibc)
import Glibc
#endif

/// Softmax followed by the negative log-likelihood of the target class,
/// averaged over the targets that count.
///
/// Logits are `[..., classes]`, targets hold one class id per row as a float;
/// a negative target is ignored (it adds neither loss nor gradient, and is not
/// counted). The softmax is fused with the loss: backward is `(p - onehot) / n`.
public final class SoftmaxCrossEntropy: Loss {
    private var probabilities = Workspace()
    private var gradient = Workspace()
    // A copy, so a caller refilling its batch buffer cannot change backward.
    private var targetCopy = Workspace()
    private var lastTargets = Tensor(zeros: [0])
    private var lastShape: [Int] = [0]
    private var lastCount = 0

    public init() {}

    /// The profile's region, shared with the GPT's fused loss.
    static let profileRegion = ProfileRegion("softmax and cross-entropy", group: .loss)

    public func forward(_ predictions: Tensor, targets: Tensor) -> LossResult {
        KernelProfile.measure(Self.profileRegion) { measuredForward(predictions, targets: targets) }
    }

    private func measuredForward(_ predictions: Tensor, targets: Tensor) -> LossResult {
        precondition(predictions.rank >= 1, "SoftmaxCrossEntropy: logits need a class dimension")
        let classes = predictions.shape[predictions.rank - 1]
        let rows = classes == 0 ? 0 : predictions.count / classes
        precondition(targets.count == rows,
                     "SoftmaxCrossEntropy: \(targets.count) targets for \(rows) rows of logits \(predictions.shape)")
        let p = probabilities.tensor(predictions.shape)
        let logits = predictions.pointer, probs = p.pointer, t = targets.pointer
        // Summing in Double keeps the mean exact enough for finite-difference checks.
        var total: Double = 0
        var count = 0
        var correct = 0
        for r in 0..<rows {
            let row = logits + r * classes
            let out = probs + r * classes
            let argmax = Kernels.argmax(row, count: classes)
            let normalizer = Kernels.softmaxRow(row, into: out, count: classes)
            let target = t[r]
            if target < 0 { continue }
            let k = Int(target)
            precondition(Float(k) == target && k < classes,
                         "SoftmaxCrossEntropy: target \(target) is not a class id below \(classes)")
            total += Double(logf(normalizer.total)) - Double(row[k] - normalizer.maximum)
            count += 1
            if argmax == k { correct += 1 }
        }
        lastTargets = targetCopy.tensor([rows])
        lastTargets.copy(from: targets)
        lastShape = predictions.shape
        lastCount = count
        return LossResult(loss: count == 0 ? 0 : Float(total / Double(count)), correct: correct, count: count)
    }

    public func backward(scale: Float = 1) -> Tensor {
        KernelProfile.measure(Self.profileRegion) { measuredBackward(scale: scale) }
    }

    private func measuredBackward(scale: Float) -> Tensor {
        let classes = lastShape.last ?? 0
        let rows = lastTargets.count
        let g = gradient.tensor(lastShape)
        let probs = probabilities.tensor(lastShape).pointer, gp = g.pointer, t = lastTargets.pointer
        let factor = lastCount == 0 ? 0 : scale / Float(lastCount)
        for r in 0..<rows {
            let out = gp + r * classes
            let target = t[r]
            if target < 0 {
                out.update(repeating: 0, count: classes)
                continue
            }
            let row = probs + r * classes
            for j in 0..<classes { out[j] = row[j] * factor }
            out[Int(target)] -= factor
        }
        return g
    }
}
