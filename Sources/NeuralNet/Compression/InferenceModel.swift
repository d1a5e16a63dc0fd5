import TensorCore

/// A model that only predicts: what evaluation, prediction and serving need,
/// whatever form the weights take (dense, pruned, int8, low-rank).
///
/// Implementations reuse workspaces between calls, so one instance must not
/// run two batches at once; a server serializes calls (or keeps one
/// instance per worker).
public protocol InferenceModel: AnyObject {
    /// The shape of one sample, e.g. `[784]` or `[1, 28, 28]`; inputs are
    /// `[B] + inputShape` or the same elements flattened per sample.
    var inputShape: [Int] { get }
    /// Scalars the model stores (both factors of a factorized layer, each
    /// int8 value counting as one).
    var parameterCount: Int { get }

    /// Class logits `[B, classes]` (or next-token logits `[B, T, vocab]` for a
    /// language model), in a new tensor the caller owns.
    ///
    /// - Parameter inputs: A batch of `B ≥ 1` samples.
    func logits(_ inputs: Tensor) -> Tensor
}

/// A trainable ``Model`` used for inference as it is: the path for plain
/// checkpoints of models without a dedicated inference network (the GPT).
public final class ModelInference: InferenceModel {
    /// The wrapped model, with dropout off.
    public let model: Model
    public let inputShape: [Int]
    public var parameterCount: Int { model.parameters.count }

    /// - Parameters:
    ///   - model: A model with its parameters loaded.
    ///   - inputShape: The shape of one sample.
    public init(_ model: Model, inputShape: [Int]) {
        self.model = model
        self.inputShape = inputShape
        model.isTraining = false
    }

    public func logits(_ inputs: Tensor) -> Tensor {
        model.logits(inputs: inputs)
    }
}
