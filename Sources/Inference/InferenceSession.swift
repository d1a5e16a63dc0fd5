import Checkpoint
import DataPipeline
import Foundation
import NeuralNet
import RunConfig
import TensorCore

/// What a checkpoint's model predicts.
public enum ModelTask: Equatable, Sendable {
    /// Class scores for one sample of `sampleShape` raw values.
    case classifier(classes: Int)
    /// Next-token scores over a vocabulary, from up to `context` tokens.
    case languageModel(vocabularySize: Int, context: Int)
}

/// A checkpoint opened for prediction: the model as the one checkpoint
/// loader (``InferenceCheckpoint``) builds it, plain or compressed, plus
/// what turns raw inputs into the values the model was trained on
/// (preprocessing statistics, vocabulary).
///
/// The model keeps workspaces between calls, so one session serves one
/// caller at a time; a server funnels all calls through one queue.
public final class InferenceSession {
    /// The loaded checkpoint: directory, model, config, state, compression.
    public let checkpoint: LoadedCheckpoint
    /// Newer checkpoints that failed verification and were passed over.
    public let skipped: [String]
    /// What the model predicts.
    public let task: ModelTask
    /// The shape of one raw sample as a user supplies it: `[1, 28, 28]` pixel
    /// values 0...255 for MNIST, `[features]` for tabular data, `[context]` tokens.
    public let sampleShape: [Int]
    /// The value transformations applied to raw inputs before the model,
    /// as in training (scaling, standardization).
    public let inputSteps: [PreprocessingStep]
    /// The character vocabulary of a text model, when it has one.
    public let vocabulary: CharacterVocabulary?
    /// How a text model's text becomes tokens: its character vocabulary or its SentencePiece model.
    public let tokenizer: TextTokenizer?
    /// The language model itself, for sampling; `nil` for classifiers.
    public let languageModel: GPT?
    /// The run's config with `data.dir` replaced as asked: what loads the
    /// data set for evaluation.
    public let dataConfig: ResolvedConfig

    /// The checkpoint directory.
    public var directory: URL { checkpoint.directory }
    /// Its `trainer.json`.
    public var state: TrainerState { checkpoint.state }
    /// The resolved config the run used.
    public var config: ResolvedConfig { checkpoint.config }
    /// The model, in the inference form its checkpoint holds.
    public var model: InferenceModel { checkpoint.model }
    /// Raw values per sample.
    public var sampleSize: Int { sampleShape.reduce(1, *) }

    /// The classes a classifier tells apart (0 for a language model).
    public var classCount: Int {
        if case .classifier(let classes) = task { return classes }
        return 0
    }

    /// Opens the checkpoint `path` means (see ``CheckpointLocator/resolve(_:)``),
    /// verifies its checksums and loads its model.
    ///
    /// - Parameters:
    ///   - path: A checkpoint directory, or a run directory (its newest valid checkpoint).
    ///   - dataDirectory: Replaces `data.dir` when the data must be read: only
    ///     for checkpoints that predate recorded preprocessing statistics.
    /// - Throws: ``InferenceError``, ``CheckpointError``, ``CompressionError``,
    ///   or `RunError` when old statistics must be recomputed and the data set is missing.
    public init(path: String, dataDirectory: String? = nil) throws {
        let (url, _, skipped) = try CheckpointLocator.resolve(path)
        checkpoint = try InferenceCheckpoint.load(url.path)
        self.skipped = skipped
        let state = checkpoint.state
        vocabulary = try state.vocabulary.map { try CharacterVocabulary(serialized: $0) }
        if state.files[CheckpointStore.tokenizerFile] != nil {
            tokenizer = try SentencePieceTokenizer(path: url.appendingPathComponent(CheckpointStore.tokenizerFile).path)
        } else {
            tokenizer = vocabulary.map(CharacterTokenizer.init)
        }
        languageModel = (checkpoint.model as? ModelInference)?.model as? GPT

        let inputShape = checkpoint.model.inputShape
        if let gpt = languageModel {
            task = .languageModel(vocabularySize: gpt.configuration.vocabSize, context: gpt.configuration.contextLength)
            sampleShape = inputShape
            if let tokenizer, tokenizer.vocabularySize != gpt.configuration.vocabSize {
                throw CheckpointError.malformed(path: url.path, reason: "the model has \(gpt.configuration.vocabSize) tokens but its tokenizer \(tokenizer.vocabularySize)")
            }
        } else {
            // Compressed forms differ in their tensors, not in their outputs:
            // one forward pass tells the class count whatever the form.
            let probe = checkpoint.model.logits(Tensor(zeros: [1] + inputShape))
            task = .classifier(classes: probe.count)
            let dataset = checkpoint.config.run.data.dataset
            let isImage = dataset == "mnist" || dataset == "fashion_mnist"
            sampleShape = isImage && inputShape.reduce(1, *) == 784 ? [1, 28, 28] : inputShape
        }

        var config = checkpoint.config
        if let dataDirectory {
            config = try ResolvedConfig.parse(yaml: state.config, source: url.path + " (its config)",
                                              overrides: ["data.dir=\(dataDirectory)"])
        }
        dataConfig = config
        if languageModel != nil {
            // Token ids are never normalized: a text model needs nothing of its data set here.
            inputSteps = []
        } else if let recorded = state.inputPreprocessing {
            inputSteps = recorded.filter(\.changesValues)
        } else {
            inputSteps = try Self.recomputedSteps(config)
        }
    }

    /// Applies ``inputSteps`` to `rows` raw samples in place.
    public func preprocess(_ values: UnsafeMutablePointer<Float>, rows: Int) {
        let n = sampleSize
        for step in inputSteps {
            switch step {
            case .scale(let factor):
                for i in 0..<(rows * n) { values[i] *= factor }
            case let .standardize(mean, std):
                for r in 0..<rows {
                    let row = values + r * n
                    if mean.count == 1 {
                        let m = mean[0], inverse = 1 / std[0]
                        for i in 0..<n { row[i] = (row[i] - m) * inverse }
                    } else {
                        for i in 0..<n { row[i] = (row[i] - mean[i]) / std[i] }
                    }
                }
            case .flatten, .reshape, .oneHot:
                break
            }
        }
    }

    /// Class probabilities for `rows` raw samples, best first, `topK` per sample.
    ///
    /// - Parameter raw: `rows × sampleSize` raw values (not modified).
    public func classify(_ raw: [Float], rows: Int, topK: Int) -> [[ClassScore]] {
        precondition(classCount > 0, "InferenceSession.classify: the model is not a classifier")
        precondition(rows > 0 && raw.count == rows * sampleSize,
                     "InferenceSession.classify: expected \(rows) x \(sampleSize) values, got \(raw.count)")
        let inputs = Tensor(shape: [rows] + model.inputShape, values: raw)
        preprocess(inputs.pointer, rows: rows)
        let logits = model.logits(inputs)
        return (0..<rows).map { r in
            topClasses(logits: UnsafePointer(logits.pointer + r * classCount), count: classCount, k: topK)
        }
    }

    /// The preprocessing of a checkpoint that did not record it, rebuilt the
    /// way the run built it; standardization statistics need the training data.
    private static func recomputedSteps(_ config: ResolvedConfig) throws -> [PreprocessingStep] {
        guard config.run.data.normalize == .standardize else {
            return config.run.data.normalize == .scale ? [.scale(config.run.data.isImages ? 1 / 255 : 1)] : []
        }
        let data = try RunComponents.loadData(config)
        return ((data.train as? PreprocessedDataset)?.steps ?? []).filter(\.changesValues)
    }
}

extension PreprocessingStep {
    /// Whether the step changes input values (rather than shapes or targets).
    var changesValues: Bool {
        switch self {
        case .scale, .standardize: return true
        case .flatten, .reshape, .oneHot: return false
        }
    }
}
