import Checkpoint
import Foundation
import Inference
import NeuralNet

/// Turns a checkpoint opened for inference into an ONNX model (opset
/// ``ONNXModel/opsetVersion``, IR ``ONNXModel/irVersion``) and writes it.
///
/// The graph takes what `ddp predict` takes, raw values with the
/// checkpoint's preprocessing inside the graph, and gives the logits the
/// project's own inference computes:
///
/// | model    | input                                      | outputs                                          |
/// |----------|--------------------------------------------|--------------------------------------------------|
/// | MLP, CNN | `input` float `[batch] + sampleShape`      | `logits` `[batch, classes]`, `probabilities`     |
/// | GPT      | `input_ids` int64 `[batch, sequence]`      | `logits` float `[batch, sequence, vocab]`        |
///
/// `probabilities` (their softmax) exists for models trained with cross-entropy.
public enum ONNXExporter {
    /// The classifier's input.
    public static let inputName = "input"
    /// The language model's input.
    public static let tokenInputName = "input_ids"
    /// The logits output of every model.
    public static let logitsName = "logits"
    /// The softmax of the logits, for classifiers trained with cross-entropy.
    public static let probabilitiesName = "probabilities"
    /// The free batch dimension's name (`dim_param`).
    public static let batchDimension = "batch"
    /// The free sequence dimension of the GPT, at most its context length.
    public static let sequenceDimension = "sequence"

    /// The largest model one protobuf message can hold, less room for the graph itself.
    static let weightLimit = Int(Int32.max) - (1 << 20)

    /// The ONNX form of the checkpoint `session` opened.
    ///
    /// - Throws: ``ONNXExportError`` for a model or layer the exporter cannot write.
    public static func model(for session: InferenceSession) throws -> ONNXModel {
        let checkpoint = session.directory.path
        let graph: ONNXGraph
        switch session.task {
        case .languageModel:
            guard let gpt = session.languageModel else {
                throw ONNXExportError.unsupportedModel(checkpoint: checkpoint, reason: "a language model that is not the GPT")
            }
            graph = GPTExport.graph(gpt)
        case .classifier(let classes):
            guard let network = session.model as? InferenceNetwork else {
                throw ONNXExportError.unsupportedModel(checkpoint: checkpoint, reason: "\(type(of: session.model)) is not a feed-forward network")
            }
            for step in session.inputSteps {
                if case let .standardize(mean, std) = step, mean.count != 1, mean.count != session.sampleSize || std.count != mean.count {
                    throw ONNXExportError.unsupportedModel(
                        checkpoint: checkpoint,
                        reason: "its standardization has \(mean.count) statistics for samples of \(session.sampleSize) values")
                }
            }
            graph = try FeedForwardExport.graph(network, steps: session.inputSteps, sampleShape: session.sampleShape,
                                                classes: classes, probabilities: session.checkpoint.loss == .crossEntropy,
                                                checkpoint: checkpoint)
        }
        let bytes = graph.initializers.reduce(0) { $0 + $1.rawData.count }
        guard bytes <= weightLimit else { throw ONNXExportError.tooLarge(checkpoint: checkpoint, bytes: bytes) }
        var metadata: [(key: String, value: String)] = [
            ("model", session.config.run.model.kind),
            ("step", String(session.state.step)),
        ]
        if session.checkpoint.compression != nil { metadata.append(("compressed", "true")) }
        return ONNXModel(graph: graph,
                         docString: "ddp export of \(session.config.run.model.kind) checkpoint \(checkpoint) (step \(session.state.step))",
                         metadata: metadata)
    }

    /// Writes `model` to `path` through a temporary file beside it, renamed
    /// into place once complete, so a failed export leaves no partial model.
    ///
    /// - Returns: The file's size in bytes.
    /// - Throws: ``CheckpointError/io(path:operation:errno:)`` naming `path`.
    @discardableResult
    public static func write(_ model: ONNXModel, to path: String) throws -> Int {
        let bytes = model.serialized()
        let temporary = path + ".partial"
        do {
            try writeFileSynced(temporary, Data(bytes))
        } catch CheckpointError.io(_, let operation, let code) {
            unlink(temporary)
            throw CheckpointError.io(path: path, operation: operation == "open" ? "create" : operation, errno: code)
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw CheckpointError.io(path: path, operation: "rename", errno: code)
        }
        return bytes.count
    }
}
