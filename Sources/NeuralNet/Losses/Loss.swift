import TensorCore

/// A scalar loss over a model's outputs, with its gradient.
public protocol Loss: AnyObject {
    /// Computes the mean loss of `predictions` against `targets` and keeps what
    /// ``backward(scale:)`` needs.
    func forward(_ predictions: Tensor, targets: Tensor) -> LossResult

    /// The gradient of `scale` times the last mean loss with respect to the
    /// predictions, in the loss's workspace (valid until its next call).
    func backward(scale: Float) -> Tensor
}

extension Loss {
    /// The gradient of the last mean loss with respect to the predictions.
    public func backward() -> Tensor { backward(scale: 1) }
}
