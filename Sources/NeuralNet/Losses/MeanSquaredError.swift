import TensorCore

/// The mean over all elements of `(prediction - target)²`.
///
/// ``LossResult/count`` is the number of samples (the outermost dimension).
/// ``LossResult/correct`` counts the samples whose target row is one-hot and
/// whose largest prediction sits at its hot position, so a classifier trained
/// on one-hot targets still reports accuracy; plain regression reports 0.
public final class MeanSquaredError: Loss {
    private var difference = Workspace()
    private var gradient = Workspace()
    private var lastShape: [Int] = [0]

    public init() {}

    public func forward(_ predictions: Tensor, targets: Tensor) -> LossResult {
        precondition(predictions.count == targets.count,
                     "MeanSquaredError: predictions \(predictions.shape) and targets \(targets.shape) differ in size")
        let d = difference.tensor(predictions.shape)
        let p = predictions.pointer, t = targets.pointer, dp = d.pointer
        var total: Double = 0
        for i in 0..<d.count {
            let e = p[i] - t[i]
            dp[i] = e
            total += Double(e * e)
        }
        lastShape = predictions.shape
        let n = predictions.count
        let rows = predictions.rank == 0 ? 1 : predictions.shape[0]
        return LossResult(loss: n == 0 ? 0 : Float(total / Double(n)),
                          correct: oneHotMatches(p, t, rows: rows, width: rows == 0 ? 0 : n / rows),
                          count: rows)
    }

    private func oneHotMatches(_ p: UnsafePointer<Float>, _ t: UnsafePointer<Float>, rows: Int, width: Int) -> Int {
        guard width > 1 else { return 0 }
        var correct = 0
        for r in 0..<rows {
            let prediction = p + r * width, target = t + r * width
            var hot = -1, ones = 0, zeros = 0, best = 0
            for j in 0..<width {
                if target[j] == 1 { hot = j; ones += 1 } else if target[j] == 0 { zeros += 1 }
                if prediction[j] > prediction[best] { best = j }
            }
            if ones == 1 && zeros == width - 1 && best == hot { correct += 1 }
        }
        return correct
    }

    public func backward(scale: Float = 1) -> Tensor {
        let d = difference.tensor(lastShape)
        let g = gradient.tensor(lastShape)
        let factor = d.count == 0 ? 0 : 2 * scale / Float(d.count)
        let dp = d.pointer, gp = g.pointer
        for i in 0..<g.count { gp[i] = dp[i] * factor }
        return g
    }
}
