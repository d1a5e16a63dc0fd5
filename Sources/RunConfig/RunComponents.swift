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
    /// The SentencePiece model of prepared subword text, copied into checkpoints.
    public var tokenizerModel: String? = nil
    /// Characters (Unicode scalars) per token of a text validation split, so that
    /// a loss per token converts to bits per character: 1 for character tokens.
    public var validationCharactersPerToken: Double? = nil
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
        let settings = config.run.data
        let dataset = settings.dataset
        let dir = settings.directory
        let seed = UInt64(config.run.training.seed)
        let fraction = settings.validationFraction
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
        var tokenizerModel: String?
        var isImages = settings.isImages
        var tableStatistics: PreprocessingStep?
        // data.normalize applies to prepared images and tables, never to tokens.
        var isTokens = false
        var charactersPerToken: Double?
        switch settings.source {
        case .prepared(let path, let validationPath):
            let data = try PreparedData(directory: path)
            let separate = try validationPath.map { try PreparedData(directory: $0) }
            if let separate {
                try checkCompatible(separate, with: data)
            }
            switch data.manifest.kind {
            case .text:
                let context = try textContext(config)
                let text = data.manifest.text!
                let count = data.manifest.count
                let trainCount = separate == nil ? count - Int(Double(count) * max(fraction, 0.01)) : count
                guard trainCount > context else {
                    throw DataError.tooLittleData(file: path, reason: "\(trainCount) training tokens cannot fill a window of \(context + 1)")
                }
                train = PreparedTokenWindows(data, range: 0..<trainCount, contextLength: context)
                if let separate {
                    validation = PreparedTokenWindows(separate, range: 0..<separate.manifest.count, contextLength: context)
                } else {
                    validation = PreparedTokenWindows(data, range: trainCount..<count, contextLength: context)
                }
                if let characters = text.tokenizer.characters {
                    vocabulary = try CharacterVocabulary(serialized: characters)
                    charactersPerToken = 1
                }
                if let model = text.tokenizer.model {
                    tokenizerModel = path + "/" + model.file
                    let tokenizer = try SentencePieceTokenizer(path: path + "/" + model.file)
                    charactersPerToken = (validation as! PreparedTokenWindows).charactersPerToken(decodingWith: tokenizer)
                }
                isTokens = true
            case .images:
                if let separate {
                    (train, validation) = (try PreparedImages(data), try PreparedImages(separate))
                } else {
                    (train, validation) = splitDataset(try PreparedImages(data), validationFraction: fraction, seed: seed)
                }
                isImages = true
            case .table:
                let table = try PreparedTable(data)
                tableStatistics = table.standardization
                if let separate {
                    (train, validation) = (table, try PreparedTable(separate))
                } else {
                    (train, validation) = splitDataset(table, validationFraction: fraction, seed: seed)
                }
            }
        case .mnist, .fashionMNIST:
            let isMNIST = settings.source == .mnist
            let path = dir + (isMNIST ? "/mnist" : "/fashion-mnist")
            try requireDirectory(path, fetch: isMNIST ? "mnist" : "fashion")
            train = try IDXImageDataset.load(directory: path, split: .train)
            validation = try IDXImageDataset.load(directory: path, split: .test)
            validationName = "test"
        case .sklearn(let name):
            let path = dir + "/sklearn"
            try requireDirectory(path, fetch: "sklearn")
            guard let table = SklearnTable(rawValue: name) else {
                preconditionFailure("RunComponents: data set \(name) passed validation but has no loader")
            }
            (train, validation) = splitDataset(try table.load(directory: path), validationFraction: fraction, seed: seed)
        case .csv(let path, let labelColumn):
            let table = try TabularDataset.loadCSV(file: path, labelColumn: labelColumn)
            (train, validation) = splitDataset(table, validationFraction: fraction, seed: seed)
        case .syntheticClasses(let samples, let features, let classes):
            let all = SyntheticClassification(count: samples, inputShape: [features], classCount: classes, seed: seed)
            (train, validation) = splitDataset(all, validationFraction: fraction, seed: seed)
        case .shakespeare:
            let file = dir + "/shakespeare/shakespeare.txt"
            guard FileManager.default.fileExists(atPath: file) else {
                throw RunError.dataMissing(path: file, hint: "run `launch/fetch-data.sh shakespeare` (or set data.dir)")
            }
            let corpus = try CharacterCorpus.load(file: file, contextLength: try textContext(config),
                                                  validationFraction: max(fraction, 0.01))
            train = corpus.train
            validation = corpus.validation
            vocabulary = corpus.vocabulary
            charactersPerToken = 1
        case .syntheticText(let samples, let vocabularySize):
            let context = try textContext(config)
            let all = SyntheticTokens.dataset(tokenCount: samples * context + 1, vocabularySize: vocabularySize,
                                              contextLength: context, seed: seed)
            let split = SyntheticTokens.dataset(tokenCount: max(all.count / 10, 2) * context + 1,
                                                vocabularySize: vocabularySize, contextLength: context, seed: seed &+ 1)
            train = all
            validation = split
        }
        var augmented = train
        if let settings = settings.augmentation, settings.isActive, train.inputShape.count == 3 {
            let augmentation = ImageAugmentation(flip: settings.flip, cropPadding: settings.cropPadding,
                                                 rotateDegrees: settings.rotateDegrees)
            augmented = AugmentedDataset(train, augmentation: augmentation, seed: seed)
        }
        let (preparedTrain, preparedValidation) = isTokens ? (augmented, validation)
            : preprocess(augmented, validation, config: config.run, isImages: isImages, statistics: tableStatistics)
        let summary = "\(dataset): \(preparedTrain.count) training and \(preparedValidation.count) \(validationName) samples, "
            + "input \(preparedTrain.inputShape), \(preparedTrain.classCount.map { "\($0) classes" } ?? "regression")"
        var splits = DataSplits(train: preparedTrain, validation: preparedValidation, validationName: validationName,
                                vocabulary: vocabulary, summary: summary)
        splits.tokenizerModel = tokenizerModel
        splits.validationCharactersPerToken = charactersPerToken
        return splits
    }

    /// Checks that a separately prepared validation set can stand in for a split of `train`.
    private static func checkCompatible(_ validation: PreparedData, with train: PreparedData) throws {
        func refuse(_ reason: String) -> DataError { .badPreparedData(file: validation.directory, reason: reason) }
        let (a, b) = (validation.manifest, train.manifest)
        guard a.kind == b.kind else { throw refuse("holds \(a.kind.rawValue) but data.path holds \(b.kind.rawValue)") }
        if let x = a.images, let y = b.images, x.shape != y.shape || x.classes != y.classes {
            throw refuse("images of \(x.shape) in classes \(x.classes), but data.path has \(y.shape) in \(y.classes)")
        }
        if let x = a.table, let y = b.table, x.features != y.features {
            throw refuse("rows of \(x.features) features, but data.path has \(y.features)")
        }
        if let x = a.text, let y = b.text, x.tokenizer != y.tokenizer || x.vocabularySize != y.vocabularySize {
            throw refuse("another tokenizer than data.path's; prepare both with the same tokenizer")
        }
    }

    /// The context length of a text data set's windows: the GPT's.
    private static func textContext(_ config: ResolvedConfig) throws -> Int {
        guard let context = config.run.model.context else {
            throw RunError.incompatible("\(config.source): data.dataset \(config.run.data.dataset) is a token stream, "
                                        + "which only model.kind gpt trains on")
        }
        return context
    }

    /// - Parameter statistics: A prepared table's standardization, measured by `ddp prepare` over all its rows.
    private static func preprocess(_ train: Dataset, _ validation: Dataset, config: RunConfig, isImages isImage: Bool,
                                   statistics: PreprocessingStep?) -> (Dataset, Dataset) {
        var steps: [PreprocessingStep] = []
        switch config.data.normalize {
        case .scale:
            steps.append(.scale(isImage ? 1 / 255 : 1))
        case .standardize:
            // Statistics come from the training split only, and are applied to both.
            steps.append(statistics ?? Standardization(measuring: train, perFeature: !isImage).step)
        case .none:
            break
        }
        if case .mlp(_, _, let loss) = config.model.architecture {
            if train.inputShape.count > 1 { steps.append(.flatten) }
            if loss == .meanSquaredError { steps.append(.oneHot) }
        }
        if steps.isEmpty { return (train, validation) }
        return (PreprocessedDataset(train, steps: steps), PreprocessedDataset(validation, steps: steps))
    }

    /// Builds the model `model.kind` for inputs and classes of `data`.
    public static func makeModel(_ config: ResolvedConfig, data: DataSplits) throws -> Model {
        let settings = config.run.model
        let dropout = Float(settings.dropout)
        let inputShape = data.train.inputShape
        let dataset = config.run.data.dataset
        guard let classes = data.train.classCount else {
            throw RunError.incompatible("\(config.source): data.dataset \(dataset) has no classes to predict")
        }
        switch settings.architecture {
        case .mlp(let hidden, let activation, let loss):
            return MLP(.init(inputs: inputShape.reduce(1, *), hidden: hidden, outputs: classes,
                             activation: activation, dropout: dropout, loss: loss))
        case .cnn(let channels, let fcWidth):
            guard inputShape.count == 3, inputShape[1] == inputShape[2] else {
                throw RunError.incompatible("\(config.source): model.kind cnn needs square images [channels, side, side]; "
                                            + "data.dataset \(dataset) gives \(inputShape)")
            }
            guard channels.count == 2 else {
                throw RunError.incompatible("\(config.source): model.channels must list 2 widths, got \(channels)")
            }
            let lenet = LeNet.Configuration(inputChannels: inputShape[0], imageSize: inputShape[1],
                                            conv1Channels: channels[0], conv2Channels: channels[1],
                                            hidden: fcWidth, classes: classes, dropout: dropout)
            guard lenet.featureSize >= 1 else {
                throw RunError.incompatible("\(config.source): images of side \(inputShape[1]) are too small for the CNN")
            }
            return LeNet(lenet)
        case .gpt(let layers, let heads, let width, let context):
            guard inputShape.count == 1 else {
                throw RunError.incompatible("\(config.source): model.kind gpt needs a token data set (shakespeare, synthetic_text), "
                                            + "not \(dataset)")
            }
            return GPT(GPTConfiguration(vocabSize: classes, contextLength: context, layers: layers, heads: heads,
                                        width: width, dropout: dropout),
                       dropoutSeed: UInt64(config.run.training.seed))
        }
    }

    /// Builds the optimizer `optimizer.kind`, owning `shard` of the parameters (all by default).
    public static func makeOptimizer(_ config: ResolvedConfig, parameters: ParameterStore,
                                     shard: Range<Int>? = nil) -> Optimizer {
        let settings = config.run.optimizer
        let decay = Float(settings.weightDecay)
        let scope: WeightDecayScope = settings.decayAll ? .all : .decayingParameters
        switch settings.method {
        case .sgd(let momentum, let nesterov):
            return SGD(parameters: parameters, shard: shard, momentum: Float(momentum), nesterov: nesterov && momentum > 0,
                       weightDecay: decay, weightDecayScope: scope)
        case .adam(let beta1, let beta2, let epsilon, let decoupled):
            let betas = (Float(beta1), Float(beta2))
            if decoupled {
                return AdamW(parameters: parameters, shard: shard, betas: betas, epsilon: Float(epsilon),
                             weightDecay: decay, weightDecayScope: scope)
            }
            return Adam(parameters: parameters, shard: shard, betas: betas, epsilon: Float(epsilon),
                        weightDecay: decay, weightDecayScope: scope)
        }
    }

    /// The learning-rate schedule over a run of `totalSteps`.
    public static func makeSchedule(_ config: ResolvedConfig, totalSteps: Int) -> LearningRateSchedule {
        let rate = Float(config.run.optimizer.learningRate)
        switch config.run.schedule {
        case .step(let every, let gamma):
            return .stepDecay(base: rate, every: every, gamma: Float(gamma))
        case .cosine(let warmupSteps, let minimumRate):
            let warmup = min(warmupSteps, totalSteps)
            return .cosine(base: rate, warmupSteps: warmup, totalSteps: max(totalSteps, warmup), minimum: Float(minimumRate))
        case .constant:
            return .constant(rate)
        }
    }
}
