import DataPipeline
import Foundation
import NeuralNet
import TensorCore

/// The training and evaluation splits of a run's data set.
public struct DataSplits {
    public let train: Dataset
    public let validation: Dataset
    /// `test` for data sets with an official test split, else `validation`.
    public let validationName: String
    /// The character vocabulary of a text corpus, carried into checkpoints.
    public let vocabulary: CharacterVocabulary?
    /// A description of the data, logged at start and compared across ranks.
    public let summary: String
}

/// Builds the parts of a run from its resolved config.
public enum RunComponents {
    /// Loads and preprocesses the data set `data.dataset`.
    ///
    /// - Throws: ``RunError/dataMissing(path:hint:)`` when the files are not
    ///   there, or the loader's `DataError` naming the file that is wrong.
    public static func loadData(_ config: ResolvedConfig) throws -> DataSplits {
        let dataset = config.string("data.dataset")
        let dir = config.string("data.dir")
        let seed = UInt64(config.int("training.seed"))
        let fraction = config.double("data.validation_fraction")
        func requireDirectory(_ path: String, fetch: String) throws {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw RunError.dataMissing(path: path, hint: "run `launch/fetch-data.sh \(fetch)` (or set data.dir)")
            }
        }
        let train: Dataset
        let validation: Dataset
        var validationName = "validation"
        var vocabulary: CharacterVocabulary?
        switch dataset {
        case "mnist", "fashion_mnist":
            let path = dir + (dataset == "mnist" ? "/mnist" : "/fashion-mnist")
            try requireDirectory(path, fetch: dataset == "mnist" ? "mnist" : "fashion")
            train = try IDXImageDataset.load(directory: path, split: .train)
            validation = try IDXImageDataset.load(directory: path, split: .test)
            validationName = "test"
        case "iris", "wine", "digits":
            let path = dir + "/sklearn"
            try requireDirectory(path, fetch: "sklearn")
            let table = try SklearnTable(rawValue: dataset)!.load(directory: path)
            (train, validation) = splitDataset(table, validationFraction: fraction, seed: seed)
        case "csv":
            let table = try TabularDataset.loadCSV(file: config.string("data.path"),
                                                   labelColumn: config.int("data.label_column"))
            (train, validation) = splitDataset(table, validationFraction: fraction, seed: seed)
        case "synthetic_classes":
            let all = SyntheticClassification(count: config.int("data.samples"), inputShape: [config.int("data.features")],
                                              classCount: config.int("data.classes"), seed: seed)
            (train, validation) = splitDataset(all, validationFraction: fraction, seed: seed)
        case "shakespeare":
            let file = dir + "/shakespeare/shakespeare.txt"
            guard FileManager.default.fileExists(atPath: file) else {
                throw RunError.dataMissing(path: file, hint: "run `launch/fetch-data.sh shakespeare` (or set data.dir)")
            }
            let corpus = try CharacterCorpus.load(file: file, contextLength: config.int("model.context"),
                                                  validationFraction: max(fraction, 0.01))
            train = corpus.train
            validation = corpus.validation
            vocabulary = corpus.vocabulary
        case "synthetic_text":
            let context = config.int("model.context")
            let all = SyntheticTokens.dataset(tokenCount: config.int("data.samples") * context + 1,
                                              vocabularySize: config.int("data.vocabulary"),
                                              contextLength: context, seed: seed)
            let split = SyntheticTokens.dataset(tokenCount: max(all.count / 10, 2) * context + 1,
                                                vocabularySize: config.int("data.vocabulary"),
                                                contextLength: context, seed: seed &+ 1)
            train = all
            validation = split
        default:
            preconditionFailure("RunComponents: data set \(dataset) passed validation but has no loader")
        }
        let (preparedTrain, preparedValidation) = preprocess(train, validation, config: config)
        let summary = "\(dataset): \(preparedTrain.count) training and \(preparedValidation.count) \(validationName) samples, "
            + "input \(preparedTrain.inputShape), \(preparedTrain.classCount.map { "\($0) classes" } ?? "regression")"
        return DataSplits(train: preparedTrain, validation: preparedValidation, validationName: validationName,
                          vocabulary: vocabulary, summary: summary)
    }

    private static func preprocess(_ train: Dataset, _ validation: Dataset,
                                   config: ResolvedConfig) -> (Dataset, Dataset) {
        var steps: [PreprocessingStep] = []
        let isImage = ["mnist", "fashion_mnist"].contains(config.string("data.dataset"))
        switch config.values["data.normalize"].map({ "\($0)" }) ?? "none" {
        case "scale":
            steps.append(.scale(isImage ? 1 / 255 : 1))
        case "standardize":
            // Statistics come from the training split only, and are applied to both.
            let statistics = Standardization(measuring: train, perFeature: !isImage)
            steps.append(statistics.step)
        default:
            break
        }
        let kind = config.string("model.kind")
        if kind == "mlp" && train.inputShape.count > 1 { steps.append(.flatten) }
        if kind == "mlp" && config.values["model.loss"] == .string("mse") { steps.append(.oneHot) }
        if steps.isEmpty { return (train, validation) }
        return (PreprocessedDataset(train, steps: steps), PreprocessedDataset(validation, steps: steps))
    }

    /// Builds the model `model.kind` for inputs and classes of `data`.
    public static func makeModel(_ config: ResolvedConfig, data: DataSplits) throws -> Model {
        let dropout = Float(config.double("model.dropout"))
        let inputShape = data.train.inputShape
        guard let classes = data.train.classCount else {
            throw RunError.incompatible("\(config.source): data.dataset \(config.string("data.dataset")) has no classes to predict")
        }
        switch config.string("model.kind") {
        case "mlp":
            let activation = Activation(rawValue: config.string("model.activation"))!
            let loss: LossKind = config.string("model.loss") == "mse" ? .meanSquaredError : .crossEntropy
            return MLP(.init(inputs: inputShape.reduce(1, *), hidden: config.intList("model.hidden"), outputs: classes,
                             activation: activation, dropout: dropout, loss: loss))
        case "cnn":
            guard inputShape.count == 3, inputShape[1] == inputShape[2] else {
                throw RunError.incompatible("\(config.source): model.kind cnn needs square images [channels, side, side]; "
                                            + "data.dataset \(config.string("data.dataset")) gives \(inputShape)")
            }
            let channels = config.intList("model.channels")
            guard channels.count == 2 else {
                throw RunError.incompatible("\(config.source): model.channels must list 2 widths, got \(channels)")
            }
            let lenet = LeNet.Configuration(inputChannels: inputShape[0], imageSize: inputShape[1],
                                            conv1Channels: channels[0], conv2Channels: channels[1],
                                            hidden: config.int("model.fc_width"), classes: classes, dropout: dropout)
            guard lenet.featureSize >= 1 else {
                throw RunError.incompatible("\(config.source): images of side \(inputShape[1]) are too small for the CNN")
            }
            return LeNet(lenet)
        case "gpt":
            guard inputShape.count == 1 else {
                throw RunError.incompatible("\(config.source): model.kind gpt needs a token data set (shakespeare, synthetic_text), "
                                            + "not \(config.string("data.dataset"))")
            }
            return GPT(GPTConfiguration(vocabSize: classes, contextLength: config.int("model.context"),
                                        layers: config.int("model.layers"), heads: config.int("model.heads"),
                                        width: config.int("model.width"), dropout: dropout),
                       dropoutSeed: UInt64(config.int("training.seed")))
        default:
            preconditionFailure("RunComponents: model \(config.string("model.kind")) passed validation but has no builder")
        }
    }

    /// Builds the optimizer `optimizer.kind`, owning `shard` of the parameters (all by default).
    public static func makeOptimizer(_ config: ResolvedConfig, parameters: ParameterStore,
                                     shard: Range<Int>? = nil) -> Optimizer {
        let decay = Float(config.double("optimizer.weight_decay"))
        let scope: WeightDecayScope = config.bool("optimizer.decay_all") ? .all : .decayingParameters
        switch config.string("optimizer.kind") {
        case "sgd":
            return SGD(parameters: parameters, shard: shard, momentum: Float(config.double("optimizer.momentum")),
                       nesterov: config.bool("optimizer.nesterov") && config.double("optimizer.momentum") > 0,
                       weightDecay: decay, weightDecayScope: scope)
        case "adam":
            return Adam(parameters: parameters, shard: shard,
                        betas: (Float(config.double("optimizer.beta1")), Float(config.double("optimizer.beta2"))),
                        epsilon: Float(config.double("optimizer.eps")), weightDecay: decay, weightDecayScope: scope)
        default:
            return AdamW(parameters: parameters, shard: shard,
                         betas: (Float(config.double("optimizer.beta1")), Float(config.double("optimizer.beta2"))),
                         epsilon: Float(config.double("optimizer.eps")), weightDecay: decay, weightDecayScope: scope)
        }
    }

    /// The learning-rate schedule over a run of `totalSteps`.
    public static func makeSchedule(_ config: ResolvedConfig, totalSteps: Int) -> LearningRateSchedule {
        let rate = Float(config.double("optimizer.lr"))
        switch config.string("schedule.kind") {
        case "step":
            return .stepDecay(base: rate, every: config.int("schedule.step_every"), gamma: Float(config.double("schedule.gamma")))
        case "cosine":
            let warmup = min(config.int("schedule.warmup_steps"), totalSteps)
            return .cosine(base: rate, warmupSteps: warmup, totalSteps: max(totalSteps, warmup),
                           minimum: Float(config.double("schedule.min_lr")))
        default:
            return .constant(rate)
        }
    }
}
