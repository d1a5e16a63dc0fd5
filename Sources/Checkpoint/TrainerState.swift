import DataPipeline
import Foundation
import TensorCore

/// The contents of a checkpoint's `trainer.json`: everything beyond the
/// tensors that a resumed run needs to continue bit for bit, plus what is
/// needed to tell whether it may.
///
/// 64-bit words (RNG states) are stored as 16-digit hex strings: JSON
/// numbers pass through doubles in many readers and would lose bits.
public struct TrainerState: Codable, Equatable, Sendable {
    /// The layout version of this file.
    public var format: Int
    /// Optimizer steps taken.
    public var step: Int
    /// The sampler's next batch (its epoch and per-rank micro-batch index).
    /// The index counts global batches of `globalBatch / accumulation`
    /// samples whatever the rank count, see ``Trainer/resume(from:)``.
    public var samplerPosition: SamplerPosition
    /// Steps in one epoch, which must not change on resume.
    public var stepsPerEpoch: Int
    /// Ranks of the run that wrote the checkpoint.
    public var worldSize: Int
    /// `training.batch_size`, the global batch.
    public var globalBatch: Int
    /// `training.accumulation`.
    public var accumulation: Int
    /// Samples in the training split.
    public var trainSamples: Int
    /// Scalars in the model.
    public var parameterCount: Int
    /// Every rank's dropout generator state, by rank, as 4 hex words.
    public var dropoutGenerators: [[String]]
    /// The optimizer's kind, step count and state buffer names.
    public var optimizer: OptimizerRecord
    /// The resolved config (YAML) the run used.
    public var config: String
    /// Its digest (``ResolvedConfig/digest``).
    public var configDigest: String
    /// The character vocabulary of a text corpus, serialized.
    public var vocabulary: String?
    /// The other files of the checkpoint, by name.
    public var files: [String: FileRecord]
    /// The input preprocessing the model was trained with (standardization
    /// statistics measured on the training split, scaling), so that
    /// evaluation, prediction and serving need not reload the training data.
    /// Absent in checkpoints written before it was recorded.
    public var inputPreprocessing: [PreprocessingStep]? = nil
    /// Skipped steps, rollbacks and the spike detector's windows. Absent in
    /// checkpoints written before anomaly handling recorded them.
    public var anomalies: AnomalyHistory? = nil

    /// The optimizer's part of the state; the tensors are in `optimizer.safetensors`.
    public struct OptimizerRecord: Codable, Equatable, Sendable {
        /// `optimizer.kind`.
        public var kind: String
        /// ``Optimizer/stepCount``.
        public var stepCount: Int
        /// The state buffer names, e.g. `exp_avg`; each is stored per
        /// parameter as `<state>.<parameter name>`.
        public var stateNames: [String]
        /// Each rank's shard of the flat buffer when the state was sharded
        /// (ZeRO-1); the file always holds the gathered, unsharded state.
        public var shards: [[Int]]?

        public init(kind: String, stepCount: Int, stateNames: [String], shards: [[Int]]?) {
            (self.kind, self.stepCount, self.stateNames, self.shards) = (kind, stepCount, stateNames, shards)
        }
    }

    /// A file's size and SHA-256.
    public struct FileRecord: Codable, Equatable, Sendable {
        public var bytes: Int
        public var sha256: String

        public init(bytes: Int, sha256: String) {
            (self.bytes, self.sha256) = (bytes, sha256)
        }
    }

    public init(format: Int, step: Int, samplerPosition: SamplerPosition, stepsPerEpoch: Int, worldSize: Int,
                globalBatch: Int, accumulation: Int, trainSamples: Int, parameterCount: Int,
                dropoutGenerators: [[String]], optimizer: OptimizerRecord, config: String, configDigest: String,
                vocabulary: String?, files: [String: FileRecord], inputPreprocessing: [PreprocessingStep]? = nil,
                anomalies: AnomalyHistory? = nil) {
        (self.format, self.step, self.samplerPosition) = (format, step, samplerPosition)
        (self.stepsPerEpoch, self.worldSize, self.globalBatch) = (stepsPerEpoch, worldSize, globalBatch)
        (self.accumulation, self.trainSamples, self.parameterCount) = (accumulation, trainSamples, parameterCount)
        (self.dropoutGenerators, self.optimizer, self.config) = (dropoutGenerators, optimizer, config)
        (self.configDigest, self.vocabulary, self.files) = (configDigest, vocabulary, files)
        self.inputPreprocessing = inputPreprocessing
        self.anomalies = anomalies
    }

    /// The current ``format``.
    public static let currentFormat = 1

    /// The JSON text, keys sorted so it diffs well.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    /// Parses `data`, naming `path` in errors.
    public static func decode(_ data: Data, path: String) throws -> TrainerState {
        let state: TrainerState
        do {
            state = try JSONDecoder().decode(TrainerState.self, from: data)
        } catch {
            throw CheckpointError.malformed(path: path, reason: "not a trainer state: \(error)")
        }
        guard state.format == currentFormat else {
            throw CheckpointError.malformed(path: path, reason: "format \(state.format); this build reads format \(currentFormat)")
        }
        return state
    }
}

extension RandomGenerator {
    /// The state as 4 hex words, for ``TrainerState``.
    public var hexWords: [String] {
        [state.0, state.1, state.2, state.3].map { String($0, radix: 16).leftPadded(to: 16) }
    }

    /// A generator from ``hexWords``; `nil` if they do not parse or are all zero.
    public init?(hexWords: [String]) {
        let words = hexWords.compactMap { UInt64($0, radix: 16) }
        guard words.count == 4, words.contains(where: { $0 != 0 }) else { return nil }
        self.init(state: (words[0], words[1], words[2], words[3]))
    }
}
