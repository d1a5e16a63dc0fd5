import TensorCore

/// The mean over all elements of `(prediction - target)²`.
///
/// ``LossResult/count`` is the number of samples (the outermost dimension),
/// ``LossResult/correct`` is always 0.
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
        return LossResult(loss: n == 0 ? 0 : Float(total / Double(n)), correct: 0,
                          count: predictions.rank == 0 ? 1 : predictions.shape[0])
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
