import TensorCore

/// The outcome of one forward pass with a loss.
public struct LossResult: Sendable, Equatable {
    /// The mean loss over the counted targets.
    public var loss: Float
    /// Correct argmax predictions (classification and language models; 0 for regression).
    public var correct: Int
    /// Targets that counted (ignore-index targets excluded).
    public var count: Int

    public init(loss: Float, correct: Int, count: Int) {
        (self.loss, self.correct, self.count) = (loss, correct, count)
    }
}

/// What a ``LayerObserver`` is shown.
public enum LayerValues: Sendable {
    /// A layer's output, in forward.
    case output
    /// The gradient with respect to a layer's input, in backward.
    case inputGradient
}

/// Called with a layer's name and its values, layer by layer in the order
/// they are computed. For diagnosis (`ddp replay --explain`), not training:
/// the values are the layer's workspaces, valid only during the call.
public typealias LayerObserver = (_ layer: String, _ values: LayerValues, _ tensor: Tensor) -> Void

/// A trainable model whose parameters live in one ``ParameterStore``.
///
/// The contract the training and data-parallel layers rely on:
/// - ``forward(inputs:targets:)`` keeps what ``backward(gradientsReady:)`` needs,
///   in workspaces reused between steps (they grow only when the batch grows).
/// - ``backward(gradientsReady:)`` **adds** the gradient of the mean loss into
///   `parameters.gradients`, so K micro-batches accumulate until the caller zeroes them.
/// - It reports finished gradient ranges in increasing offset order, contiguous and
///   together covering `0..<parameters.count`, right after the layer that finishes
///   them, so that a bucket's allreduce can start while backward goes on.
public protocol Model: AnyObject {
    /// The flat parameters and gradients.
    var parameters: ParameterStore { get }

    /// Whether dropout is active.
    var isTraining: Bool { get set }

    /// The generator dropout draws from; part of a checkpoint's state.
    var dropoutGenerator: RandomGenerator { get set }

    /// Sets every parameter from `seed` with the scheme each layer expects.
    /// The same seed gives the same bits on every rank and every run.
    func initializeParameters(seed: UInt64)

    /// Runs forward and the loss on a batch.
    ///
    /// - Parameters:
    ///   - inputs: `[B, ...]` features, or `[B, T]` token ids stored as exact floats.
    ///   - targets: `[B]` class ids, `[B, T]` token ids (negative ids are ignored),
    ///     or `[B, outputs]` regression targets, as floats.
    /// - Returns: The mean loss and, where it applies, the correct count.
    func forward(inputs: Tensor, targets: Tensor) -> LossResult

    /// Back-propagates the last ``forward(inputs:targets:)``.
    ///
    /// - Parameter gradientsReady: Called with each newly finished range of the
    ///   flat gradient buffer, in increasing offset order.
    func backward(gradientsReady: ((Range<Int>) -> Void)?)

    /// Inference: class logits `[B, classes]`, or next-token logits `[B, T, vocab]`.
    func logits(inputs: Tensor) -> Tensor

    /// Watches the layers' values while set; `nil` by default, and a model
    /// that cannot be watched ignores it. A GPT shows its activations after
    /// the trunk, in forward order, and no input gradients.
    var layerObserver: LayerObserver? { get set }
}

extension Model {
    public var layerObserver: LayerObserver? {
        get { nil }
        set {}
    }
}
