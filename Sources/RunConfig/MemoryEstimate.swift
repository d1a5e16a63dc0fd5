import Foundation

/// What a run will hold in memory on each rank, estimated from the config
/// and the data's shapes before anything is allocated: a batch size or a
/// layer width typed with three digits too many must be refused with a
/// message, not met by the allocator (a crash) or the OOM killer (a hang).
///
/// The estimate counts Float32 buffers: parameters, their gradients, the
/// optimizer state, the gradient exchange, the activations of one
/// micro-batch and of one evaluation batch, and the batch buffers. It is
/// deliberately rough (within a small factor); the point is the order of
/// magnitude.
public struct MemoryEstimate: Sendable, Equatable, CustomStringConvertible {
    /// Parameters of the model.
    public var parameters: Double
    /// Values, gradients, optimizer state and exchange buffers of the parameters.
    public var parameterBytes: Double
    /// Activations, their gradients and workspaces of one training micro-batch
    /// and one evaluation batch.
    public var activationBytes: Double
    /// The loader's batch buffers.
    public var batchBytes: Double
    /// Of ``activationBytes``, the training micro-batch's.
    public var trainingActivationBytes: Double

    /// Everything, per rank.
    public var totalBytes: Double { parameterBytes + activationBytes + batchBytes }

    public var description: String {
        "\(Self.format(totalBytes)) per rank (parameters and optimizer state \(Self.format(parameterBytes)), "
            + "activations \(Self.format(activationBytes)), batches \(Self.format(batchBytes)))"
    }

    /// `bytes` in GiB, MiB or KiB.
    public static func format(_ bytes: Double) -> String {
        if bytes >= Double(1 << 30) { return String(format: "%.1f GiB", bytes / Double(1 << 30)) }
        if bytes >= Double(1 << 20) { return String(format: "%.1f MiB", bytes / Double(1 << 20)) }
        return String(format: "%.0f KiB", bytes / 1024)
    }

    /// The estimate for `config` on data of `inputShape` and `classes`, at
    /// `microBatch` samples per rank and step, over `ranks` ranks.
    ///
    /// Computed in Double: a product of absurd sizes must not overflow an `Int`.
    public init(_ config: RunConfig, inputShape: [Int], classes: Int, microBatch: Int, ranks: Int,
                validationSamples: Int = .max) {
        let features = inputShape.map(Double.init).reduce(1, *)
        let classes = Double(classes)
        let batch = Double(microBatch)
        // An evaluation batch is at most the rank's share of the split.
        let evalBatch = min((Double(config.training.evalBatchSize) / Double(ranks)).rounded(.up),
                            (Double(validationSamples) / Double(ranks)).rounded(.up))
        // Floats per sample kept by forward and backward (outputs, input gradients, masks, workspaces).
        var perSample: Double
        var evalPerSample: Double
        switch config.model.architecture {
        case .mlp(let hidden, _, _):
            let widths = [features] + hidden.map(Double.init) + [classes]
            parameters = zip(widths, widths.dropFirst()).map { ($0 + 1) * $1 }.reduce(0, +)
            perSample = 4 * widths.reduce(0, +)
            evalPerSample = 2 * widths.reduce(0, +)
        case .cnn(let channels, let fcWidth):
            let side = Double(inputShape.count == 3 ? inputShape[1] : 1), inChannels = Double(inputShape.first ?? 1)
            let c1 = Double(channels.first ?? 1), c2 = Double(channels.dropFirst().first ?? 1)
            let side1 = max(side - 4, 1), side2 = max((side1 / 2).rounded(.down) - 4, 1)
            let flat = c2 * ((side2 / 2).rounded(.down) * (side2 / 2).rounded(.down))
            let fc = Double(fcWidth)
            parameters = c1 * (inChannels * 25 + 1) + c2 * (c1 * 25 + 1) + (flat + 1) * fc + (fc + 1) * classes
            let maps = c1 * side1 * side1 + c2 * side2 * side2
            let columns = inChannels * 25 * side1 * side1 + c1 * 25 * side2 * side2
            perSample = 4 * (maps + fc + classes) + 2 * columns
            evalPerSample = 2 * (maps + fc + classes) + columns
        case .gpt(let layers, let heads, let width, let context):
            let (l, h, c, t) = (Double(layers), Double(heads), Double(width), Double(context))
            parameters = classes * c + t * c + l * (12 * c * c + 13 * c) + 2 * c
            // Per token: about 16 widths of activations a block, attention rows per head, and the logits.
            perSample = t * (l * (16 * c + 2 * h * t) + 3 * classes)
            evalPerSample = t * (l * (8 * c + h * t) + 2 * classes)
        }
        let optimizerStates: Double
        switch config.optimizer.method {
        case .sgd(let momentum, _): optimizerStates = momentum > 0 ? 1 : 0
        case .adam: optimizerStates = 2
        }
        let sharded = config.parallel.zero == 1 ? optimizerStates / Double(ranks) : optimizerStates
        // Value, gradient, optimizer state, and a copy for the exchange.
        parameterBytes = 4 * parameters * (3 + sharded)
        trainingActivationBytes = 4 * batch * perSample
        activationBytes = trainingActivationBytes + 4 * evalBatch * evalPerSample
        // Two batch buffers (one being filled ahead), inputs and targets.
        batchBytes = 4 * 2 * batch * (features + max(classes, 1))
    }
}

extension MemoryEstimate {
    /// The config key behind the largest part, for the message that refuses the run.
    public func dominantKey(_ config: RunConfig) -> String {
        let evaluation = activationBytes - trainingActivationBytes
        if parameterBytes >= max(trainingActivationBytes + batchBytes, evaluation) {
            switch config.model.architecture {
            case .mlp: return "model.hidden"
            case .cnn: return "model.fc_width"
            case .gpt: return "model.width"
            }
        }
        return evaluation > trainingActivationBytes + batchBytes ? "training.eval_batch_size" : "training.batch_size"
    }

    /// The bytes a generated (synthetic) data set takes, from the config alone;
    /// `nil` for data sets read from files, whose size the files bound.
    public static func generatedDataBytes(_ config: RunConfig) -> Double? {
        switch config.data.source {
        case .syntheticClasses(let samples, let features, _):
            return 4 * Double(samples) * (Double(features) + 1)
        case .syntheticText(let samples, _):
            // The token stream, and its windows' inputs and targets.
            return 4 * Double(samples) * Double(config.model.context ?? 1) * 3
        default:
            return nil
        }
    }
}

/// The memory this machine can give a run now: `MemAvailable` of
/// `/proc/meminfo`, in bytes; `nil` where that cannot be read.
public func availableMemoryBytes() -> Double? {
    guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
        let fields = line.split(separator: " ")
        if fields.count >= 2, let kib = Double(fields[1]) { return kib * 1024 }
    }
    return nil
}

/// This process's memory as `/proc/self/status` reports it, in bytes: the
/// peak resident set (`VmHWM`), and the resident set now split into
/// anonymous memory (`RssAnon`: tensors, buffers) and mapped file pages
/// (`RssFile`: code, and the pages of memory-mapped data sets, which the
/// kernel can drop again). `nil` where that cannot be read.
public func processMemoryBytes() -> (peakResident: Double, anonymous: Double, mappedFiles: Double)? {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    var fields: [String: Double] = [:]
    for line in text.split(separator: "\n") {
        let parts = line.split(whereSeparator: { $0 == ":" || $0 == " " || $0 == "\t" })
        if parts.count >= 2, let kib = Double(parts[1]) { fields[String(parts[0])] = kib * 1024 }
    }
    guard let peak = fields["VmHWM"], let anonymous = fields["RssAnon"], let files = fields["RssFile"] else { return nil }
    return (peak, anonymous, files)
}
