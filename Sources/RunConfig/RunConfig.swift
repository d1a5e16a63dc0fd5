import NeuralNet

/// A run's configuration, typed: the model, data, optimizer, schedule,
/// training, checkpoint and parallel parts, with an enum for every choice
/// key and a case (with its own settings) wherever keys apply to one kind
/// only, so that a key that does not apply cannot be read.
///
/// ``ResolvedConfig`` builds it once after validating against
/// ``ConfigSchema``, which stays the single source of defaults, ranges and
/// `ddp config keys`.
public struct RunConfig: Sendable, Equatable {
    public var model: Model
    public var data: DataSettings
    public var optimizer: OptimizerSettings
    public var schedule: Schedule
    public var training: Training
    public var checkpoint: CheckpointSettings
    public var parallel: Parallel

    init(_ table: ConfigTable) {
        model = Model(table)
        data = DataSettings(table)
        optimizer = OptimizerSettings(table)
        schedule = Schedule(table)
        training = table.decode(Training.self, section: "training")
        checkpoint = table.decode(CheckpointSettings.self, section: "checkpoint")
        parallel = table.decode(Parallel.self, section: "parallel")
    }
}

// MARK: - model

extension RunConfig {
    /// `model.*`.
    public struct Model: Sendable, Equatable {
        /// `model.kind` with the keys of that kind.
        public enum Architecture: Sendable, Equatable {
            /// `model.hidden`, `model.activation`, `model.loss`.
            case mlp(hidden: [Int], activation: Activation, loss: LossKind)
            /// `model.channels`, `model.fc_width`.
            case cnn(channels: [Int], fcWidth: Int)
            /// `model.layers`, `model.heads`, `model.width`, `model.context`.
            case gpt(layers: Int, heads: Int, width: Int, context: Int)
        }

        public var architecture: Architecture
        /// `model.dropout`.
        public var dropout: Double

        /// `model.kind` as the config spells it: `mlp`, `cnn` or `gpt`.
        public var kind: String {
            switch architecture {
            case .mlp: return "mlp"
            case .cnn: return "cnn"
            case .gpt: return "gpt"
            }
        }

        /// Whether the model predicts the next token (the GPT) rather than a class.
        public var isLanguageModel: Bool { context != nil }

        /// The GPT's context length; `nil` for other models.
        public var context: Int? {
            if case .gpt(_, _, _, let context) = architecture { return context }
            return nil
        }

        /// The MLP's loss; cross-entropy for the other models.
        public var loss: LossKind {
            if case .mlp(_, _, let loss) = architecture { return loss }
            return .crossEntropy
        }

        init(_ table: ConfigTable) {
            dropout = table.double("model.dropout")
            switch table.string("model.kind") {
            case "mlp":
                architecture = .mlp(hidden: table.intList("model.hidden"),
                                    activation: Activation(rawValue: table.string("model.activation"))!,
                                    loss: table.string("model.loss") == "mse" ? .meanSquaredError : .crossEntropy)
            case "cnn":
                architecture = .cnn(channels: table.intList("model.channels"), fcWidth: table.int("model.fc_width"))
            default:
                architecture = .gpt(layers: table.int("model.layers"), heads: table.int("model.heads"),
                                    width: table.int("model.width"), context: table.int("model.context"))
            }
        }
    }
}

// MARK: - data

extension RunConfig {
    /// `data.*`.
    public struct DataSettings: Sendable, Equatable {
        /// `data.dataset` with the keys of that data set.
        public enum Source: Sendable, Equatable {
            case mnist, fashionMNIST, shakespeare
            /// A scikit-learn table: `iris`, `wine` or `digits`.
            case sklearn(String)
            /// `data.path`, `data.label_column`.
            case csv(path: String, labelColumn: Int)
            /// `data.path`: a directory `ddp prepare` wrote; `data.validation_path`, another for validation (or `nil`).
            case prepared(path: String, validationPath: String?)
            /// `data.samples`, `data.features`, `data.classes`.
            case syntheticClasses(samples: Int, features: Int, classes: Int)
            /// `data.samples`, `data.vocabulary`.
            case syntheticText(samples: Int, vocabulary: Int)
        }

        /// `data.normalize`.
        public enum Normalization: String, Sendable, Equatable {
            case none, scale, standardize
        }

        public var source: Source
        /// `data.dataset` as the config spells it.
        public var dataset: String
        /// `data.dir`.
        public var directory: String
        /// `data.validation_fraction`.
        public var validationFraction: Double
        /// `data.normalize`; `.none` for data sets it does not apply to.
        public var normalize: Normalization

        /// Whether the data set is built-in images (MNIST, Fashion-MNIST), scaled by 1/255.
        public var isImages: Bool { source == .mnist || source == .fashionMNIST }

        /// `data.prefetch`.
        public var prefetch: Bool
        /// `data.augment.*`; `nil` when it does not apply.
        public var augmentation: AugmentationSettings?

        /// `data.augment.*`: random transformations of training images.
        public struct AugmentationSettings: Sendable, Equatable {
            public var flip: Bool
            public var cropPadding: Int
            public var rotateDegrees: Double

            /// Whether any transformation is on.
            public var isActive: Bool { flip || cropPadding > 0 || rotateDegrees > 0 }
        }

        init(_ table: ConfigTable) {
            dataset = table.string("data.dataset")
            directory = table.string("data.dir")
            validationFraction = table.double("data.validation_fraction")
            normalize = table.values["data.normalize"].flatMap { Normalization(rawValue: "\($0)") } ?? .none
            prefetch = table.bool("data.prefetch")
            if table.values["data.augment.flip"] != nil {
                augmentation = AugmentationSettings(flip: table.bool("data.augment.flip"),
                                                    cropPadding: table.int("data.augment.crop_padding"),
                                                    rotateDegrees: table.double("data.augment.rotate_degrees"))
            }
            switch dataset {
            case "mnist": source = .mnist
            case "fashion_mnist": source = .fashionMNIST
            case "shakespeare": source = .shakespeare
            case "csv": source = .csv(path: table.string("data.path"), labelColumn: table.int("data.label_column"))
            case "prepared":
                let validation = table.string("data.validation_path")
                source = .prepared(path: table.string("data.path"), validationPath: validation.isEmpty ? nil : validation)
            case "synthetic_classes":
                source = .syntheticClasses(samples: table.int("data.samples"), features: table.int("data.features"),
                                           classes: table.int("data.classes"))
            case "synthetic_text":
                source = .syntheticText(samples: table.int("data.samples"), vocabulary: table.int("data.vocabulary"))
            default: source = .sklearn(dataset)
            }
        }
    }
}

// MARK: - optimizer and schedule

extension RunConfig {
    /// `optimizer.*`.
    public struct OptimizerSettings: Sendable, Equatable {
        /// `optimizer.kind` with the keys of that kind.
        public enum Method: Sendable, Equatable {
            /// `optimizer.momentum`, `optimizer.nesterov`.
            case sgd(momentum: Double, nesterov: Bool)
            /// `optimizer.beta1`, `optimizer.beta2`, `optimizer.eps`; `decoupled` for AdamW.
            case adam(beta1: Double, beta2: Double, epsilon: Double, decoupled: Bool)
        }

        public var method: Method
        /// `optimizer.lr`, the peak learning rate.
        public var learningRate: Double
        /// `optimizer.weight_decay`.
        public var weightDecay: Double
        /// `optimizer.decay_all`.
        public var decayAll: Bool
        /// `optimizer.clip_norm`; 0 for no clipping.
        public var clipNorm: Double

        /// `optimizer.kind` as the config spells it: `sgd`, `adam` or `adamw`.
        public var kind: String {
            switch method {
            case .sgd: return "sgd"
            case .adam(_, _, _, let decoupled): return decoupled ? "adamw" : "adam"
            }
        }

        init(_ table: ConfigTable) {
            learningRate = table.double("optimizer.lr")
            weightDecay = table.double("optimizer.weight_decay")
            decayAll = table.bool("optimizer.decay_all")
            clipNorm = table.double("optimizer.clip_norm")
            let kind = table.string("optimizer.kind")
            if kind == "sgd" {
                method = .sgd(momentum: table.double("optimizer.momentum"), nesterov: table.bool("optimizer.nesterov"))
            } else {
                method = .adam(beta1: table.double("optimizer.beta1"), beta2: table.double("optimizer.beta2"),
                               epsilon: table.double("optimizer.eps"), decoupled: kind == "adamw")
            }
        }
    }

    /// `schedule.*`.
    public enum Schedule: Sendable, Equatable {
        case constant
        /// `schedule.step_every`, `schedule.gamma`.
        case step(every: Int, gamma: Double)
        /// `schedule.warmup_steps`, `schedule.min_lr`.
        case cosine(warmupSteps: Int, minimumRate: Double)

        init(_ table: ConfigTable) {
            switch table.string("schedule.kind") {
            case "step": self = .step(every: table.int("schedule.step_every"), gamma: table.double("schedule.gamma"))
            case "cosine": self = .cosine(warmupSteps: table.int("schedule.warmup_steps"), minimumRate: table.double("schedule.min_lr"))
            default: self = .constant
            }
        }
    }
}

// MARK: - training, checkpoints, parallelism

extension RunConfig {
    /// `training.*`.
    public struct Training: Sendable, Equatable, Decodable {
        /// `training.on_anomaly`.
        public enum AnomalyPolicy: String, Sendable, Equatable, Decodable {
            case stop, skip, rollback
        }

        /// `training.batch_size`, the global batch over all ranks.
        public var batchSize: Int
        /// `training.eval_batch_size`.
        public var evalBatchSize: Int
        /// `training.epochs`; 0 for no limit.
        public var epochs: Int
        /// `training.steps`; 0 for no limit.
        public var steps: Int
        /// `training.eval_every`; 0 for only at the end.
        public var evalEvery: Int
        /// `training.eval_batches`; 0 for the whole split.
        public var evalBatches: Int
        /// `training.log_every`.
        public var logEvery: Int
        /// `training.seed`.
        public var seed: Int
        /// `training.shuffle`.
        public var shuffle: Bool
        /// `training.drop_last`.
        public var dropLast: Bool
        /// `training.accumulation`: micro-batches per step.
        public var accumulation: Int
        /// `training.collective_timeout` in seconds; 0 turns the watchdog off.
        public var collectiveTimeout: Double
        /// `training.on_anomaly`.
        public var onAnomaly: AnomalyPolicy
        /// `training.spike_sigmas`; 0 turns spike detection off.
        public var spikeSigmas: Double
        /// `training.spike_window`.
        public var spikeWindow: Int
        /// `training.spike_ratio`: the least multiple of the typical value a spike reaches.
        public var spikeRatio: Double
        /// `training.max_rollbacks`.
        public var maxRollbacks: Int
        /// `training.skip_steps`, sorted.
        public var skipSteps: [Int]
        /// `training.memory_fraction`: of the memory available on a host, how much a run may plan to use.
        public var memoryFraction: Double

    }

    /// `checkpoint.*`.
    public struct CheckpointSettings: Sendable, Equatable, Decodable {
        /// `checkpoint.every`; 0 for only at the end.
        public var every: Int
        /// `checkpoint.keep_last`.
        public var keepLast: Int
        /// `checkpoint.keep_every`; 0 keeps no others.
        public var keepEvery: Int

    }

    /// `parallel.*`.
    public struct Parallel: Sendable, Equatable, Decodable {
        /// `parallel.gradient_dtype`.
        public enum GradientDType: String, Sendable, Equatable, Decodable {
            case float32, bf16
        }

        /// `parallel.transport`.
        public enum Transport: String, Sendable, Equatable, Decodable {
            case auto, mpi
        }

        /// `parallel.bucket_mb`, MiB, when all ranks share a host.
        public var bucketMb: Double
        /// `parallel.bucket_mb_across_hosts`, MiB.
        public var bucketMbAcrossHosts: Double
        /// `parallel.overlap`.
        public var overlap: Bool
        /// `parallel.gradient_dtype`.
        public var gradientDtype: GradientDType
        /// `parallel.transport`.
        public var transport: Transport
        /// `parallel.zero`: 0 off, 1 shards optimizer state.
        public var zero: Int
        /// `parallel.consistency_every`; 0 only at the end.
        public var consistencyEvery: Int

    }
}
