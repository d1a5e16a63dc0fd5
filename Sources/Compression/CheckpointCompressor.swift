import Checkpoint
import DataPipeline
import Foundation
import Inference
import MPI
import NeuralNet
import RunConfig
import TensorCore
import Training

/// One model's row of the before/after table.
public struct ModelMeasurement: Sendable {
    /// Scalars stored (int8 values count one each).
    public let parameters: Int
    /// Nonzero stored scalars (pruning shows here).
    public let nonzero: Int
    /// The size of `model.safetensors`.
    public let bytes: Int
    /// Loss and accuracy on the evaluation split.
    public let evaluation: EvaluationResult
    /// Median seconds of one forward pass at batch 1.
    public let latencyBatch1: Double
    /// Median seconds of one forward pass at batch 256.
    public let latencyBatch256: Double
}

/// What ``CheckpointCompressor/compress(checkpoint:output:options:communicator:overrides:log:)`` did.
public struct CompressionReport: Sendable {
    /// The checkpoint written.
    public let output: URL
    /// The split the accuracy was measured on (`test` or `validation`).
    public let split: String
    public let before: ModelMeasurement
    public let after: ModelMeasurement
    public let record: CompressionRecord

    /// The table `ddp compress` prints.
    public var table: String {
        func count(_ n: Int) -> String {
            let digits = String(n)
            var out = ""
            for (i, c) in digits.reversed().enumerated() {
                if i > 0 && i % 3 == 0 { out.append(",") }
                out.append(c)
            }
            return String(out.reversed())
        }
        func ratio(_ a: Double, _ b: Double) -> String { b > 0 ? String(format: "%.2fx", a / b) : "" }
        func ms(_ s: Double) -> String { String(format: "%.3f ms", s * 1000) }
        var rows: [(String, String, String, String)] = [
            ("parameters", count(before.parameters), count(after.parameters),
             ratio(Double(after.parameters), Double(before.parameters))),
            ("nonzero parameters", count(before.nonzero), count(after.nonzero),
             ratio(Double(after.nonzero), Double(before.nonzero))),
            ("bytes on disk", count(before.bytes), count(after.bytes), ratio(Double(after.bytes), Double(before.bytes))),
        ]
        if let a = before.evaluation.accuracy, let b = after.evaluation.accuracy {
            rows.append(("\(split) accuracy", String(format: "%.2f%%", a * 100), String(format: "%.2f%%", b * 100),
                         String(format: "%+.2f pts", (b - a) * 100)))
        }
        rows.append(("\(split) loss", String(format: "%.4f", before.evaluation.loss), String(format: "%.4f", after.evaluation.loss),
                     String(format: "%+.4f", after.evaluation.loss - before.evaluation.loss)))
        rows.append(("latency batch 1", ms(before.latencyBatch1), ms(after.latencyBatch1),
                     ratio(after.latencyBatch1, before.latencyBatch1)))
        rows.append(("latency batch 256", ms(before.latencyBatch256), ms(after.latencyBatch256),
                     ratio(after.latencyBatch256, before.latencyBatch256)))
        let header = ("", "before", "after", "after/before")
        let all = [header] + rows
        let w0 = all.map(\.0.count).max()!, w1 = all.map(\.1.count).max()!
        let w2 = all.map(\.2.count).max()!, w3 = all.map(\.3.count).max()!
        func pad(_ s: String, _ w: Int, left: Bool = false) -> String {
            let fill = String(repeating: " ", count: max(0, w - s.count))
            return left ? s + fill : fill + s
        }
        return all.map { "\(pad($0.0, w0, left: true))  \(pad($0.1, w1))  \(pad($0.2, w2))  \(pad($0.3, w3))" }
            .joined(separator: "\n")
    }
}

/// Applies ``CompressionOptions`` to a training checkpoint and writes a new
/// checkpoint that ``InferenceCheckpoint`` loads.
///
/// The output directory holds `model.safetensors` (the compressed tensors,
/// with a `compression` entry in `__metadata__`), an empty
/// `optimizer.safetensors` (a compressed model is for inference; resuming
/// training from it is refused for want of optimizer state), and
/// `trainer.json`, the source's with the new files' sizes and SHA-256s, so
/// checksum verification and `ddp inspect` treat it like any checkpoint.
public enum CheckpointCompressor {
    /// Compresses `checkpoint` into `output` and measures both.
    ///
    /// - Parameters:
    ///   - checkpoint: A checkpoint, run or `checkpoints` directory.
    ///   - output: The directory to write (created; its checkpoint files replaced).
    ///   - options: What to do.
    ///   - communicator: A world of one rank (fine-tuning uses the trainer).
    ///   - overrides: Config overrides for reading the data, e.g. `data.dir=...`.
    ///   - log: Progress lines.
    /// - Throws: ``CompressionError``, ``CheckpointError``, `ConfigError`,
    ///   `RunError` or `DataError`.
    public static func compress(checkpoint: String, output: String, options: CompressionOptions,
                                communicator: Communicator, overrides: [String] = [],
                                log: (String) -> Void = { _ in }) throws -> CompressionReport {
        try options.validate()
        guard communicator.size == 1 else {
            throw CompressionError.invalidOption("ddp compress runs as a single process, not under mpirun with \(communicator.size) ranks")
        }
        let source = try InferenceCheckpoint.load(checkpoint)
        let kind = source.config.run.model.kind
        if kind == "gpt" && options.lowRank != nil {
            throw CompressionError.unsupported(model: kind, what: "low-rank factorization")
        }
        let outputURL = URL(fileURLWithPath: output)
        if outputURL.standardizedFileURL.path == source.directory.standardizedFileURL.path {
            throw CompressionError.invalidOption("--out must differ from the source checkpoint \(source.directory.path)")
        }
        guard source.compression == nil else {
            throw CompressionError.invalidOption("\(source.directory.path) is already compressed; compress the training checkpoint")
        }

        // The trainer gives the model, the data preprocessed as in training,
        // and, for fine-tuning, the very step the run itself took.
        let steps = max(options.finetuneSteps, 1)
        let config = try ResolvedConfig.parse(yaml: source.state.config, source: source.directory.path + " (its config)",
                                              overrides: overrides + ["training.steps=\(steps)", "training.epochs=0"])
        let trainer = try Trainer(config: config, communicator: communicator, options: RunOptions(directory: nil, plainProgress: true))
        let store = trainer.model.parameters
        let modelFile = try SafetensorsFile(path: source.directory.appendingPathComponent(CheckpointStore.modelFile).path)
        for p in store.parameters {
            guard let entry = modelFile.tensors[p.name], entry.shape == p.shape else {
                throw CheckpointError.malformed(path: modelFile.path, reason: "no tensor \(p.name) of shape \(p.shape)")
            }
            try modelFile.read(p.name, elements: 0..<p.count, into: store.values.pointer + p.offset)
        }
        let split = trainer.data.validation
        let evaluationSplit = options.evaluationSamples > 0 && options.evaluationSamples < split.count
            ? SubsetDataset(split, indices: Array(0..<options.evaluationSamples)) : split
        log("measuring \(source.directory.lastPathComponent) on \(evaluationSplit.count) \(trainer.data.validationName) samples")
        let before = try measure(source, on: evaluationSplit, runs: options.latencyRuns)

        var record = CompressionRecord(source: source.directory.path, pruning: nil,
                                       quantization: options.quantizeInt8 ? "int8" : nil, lowRank: nil,
                                       factorized: [], quantized: [])
        if options.quantizeInt8 { record.activations = CompressionRecord.dynamicInt8Activations }
        if let sparsity = options.pruneSparsity {
            let mask = MagnitudePruning.mask(for: store, sparsity: sparsity, scope: options.pruneScope)
            mask.apply(to: store)
            log(String(format: "pruned %d of %d weights (%@)", mask.prunedCount, mask.candidateCount, options.pruneScope.rawValue))
            let rate = options.finetuneLearningRate ?? config.run.optimizer.learningRate / 10
            if options.finetuneSteps > 0 {
                trainer.model.isTraining = true
                let clip = Float(config.run.optimizer.clipNorm)
                var lossSum = 0.0
                for step in 1...options.finetuneSteps {
                    lossSum += try trainer.trainStep(learningRate: Float(rate), clipNorm: clip).loss
                    // The optimizer moves pruned weights (momentum, decay): put them back to zero.
                    mask.apply(to: store)
                    if step % 50 == 0 || step == options.finetuneSteps {
                        log(String(format: "fine-tune step %d/%d  loss %.4f", step, options.finetuneSteps, lossSum / Double(step % 50 == 0 ? 50 : step % 50)))
                        lossSum = 0
                    }
                }
                trainer.model.isTraining = false
            }
            record.pruning = .init(sparsity: sparsity, scope: options.pruneScope.rawValue,
                                   achieved: MagnitudePruning.sparsity(of: store, parameters: mask.parameters),
                                   finetuneSteps: options.finetuneSteps,
                                   finetuneLearningRate: options.finetuneSteps > 0 ? rate : nil)
        }
        switch options.lowRank {
        case .energy(let e): record.lowRank = "energy \(e)"
        case .fixed(let r): record.lowRank = "rank \(r)"
        case nil: break
        }

        var tensors = try compressedTensors(store, kind: kind, options: options, record: &record, log: log)
        var sparseShapes: [String: [Int]] = [:]
        if options.pruneSparsity != nil {
            // Pruning alone shrinks the file: the pruned matrices go sparse where that is smaller.
            (tensors, sparseShapes) = sparse(tensors, pruned: Set(MagnitudePruning.candidates(in: store).map(\.name)))
        }
        try write(tensors, to: outputURL, source: source, record: record, sparseShapes: sparseShapes)
        log("wrote \(outputURL.path)")
        let after = try measure(try InferenceCheckpoint.load(output), on: evaluationSplit, runs: options.latencyRuns)
        return CompressionReport(output: outputURL, split: trainer.data.validationName, before: before, after: after, record: record)
    }

    /// A tensor to store.
    enum Payload {
        case floats([Float])
        case int8([Int8])
        case bytes([UInt8])
    }

    /// The tensors with each pruned matrix in ``SparseTensorLayout`` where
    /// that takes fewer bytes, and the dense shapes of those that went sparse.
    static func sparse(_ tensors: [(SafetensorsEntry, Payload)], pruned: Set<String>)
        -> ([(SafetensorsEntry, Payload)], [String: [Int]]) {
        var out: [(SafetensorsEntry, Payload)] = []
        var shapes: [String: [Int]] = [:]
        for (entry, payload) in tensors {
            let name = entry.name
            guard pruned.contains(name), entry.shape.count >= 2 else {
                out.append((entry, payload))
                continue
            }
            func store<Element: Numeric>(_ values: [Element], _ wrap: ([Element]) -> Payload) {
                let nonzeros = values.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
                guard SparseTensorLayout.saves(count: values.count, nonzeros: nonzeros, elementSize: entry.dtype.size) else {
                    return out.append((entry, payload))
                }
                let (mask, kept) = SparseTensorLayout.split(values)
                out.append((SafetensorsEntry(name: SparseTensorLayout.valuesName(name), shape: [kept.count], dtype: entry.dtype), wrap(kept)))
                out.append((SafetensorsEntry(name: SparseTensorLayout.maskName(name), shape: [mask.count], dtype: .u8), .bytes(mask)))
                shapes[name] = entry.shape
            }
            switch payload {
            case .floats(let values): store(values, Payload.floats)
            case .int8(let values): store(values, Payload.int8)
            case .bytes: out.append((entry, payload))
            }
        }
        return (out, shapes)
    }

    /// The tensors of the compressed model, in forward order.
    static func compressedTensors(_ store: ParameterStore, kind: String, options: CompressionOptions,
                                  record: inout CompressionRecord, log: (String) -> Void) throws -> [(SafetensorsEntry, Payload)] {
        var out: [(SafetensorsEntry, Payload)] = []
        func dense(_ name: String, _ tensor: Tensor) {
            out.append((SafetensorsEntry(name: name, shape: tensor.shape, dtype: .f32), .floats(tensor.array)))
        }
        func matrix(_ name: String, _ tensor: Tensor) {
            guard options.quantizeInt8 else { return dense(name, tensor) }
            let q = QuantizedMatrix(quantizing: tensor)
            out.append((SafetensorsEntry(name: name, shape: tensor.shape, dtype: .i8), .int8(q.values)))
            out.append((SafetensorsEntry(name: name + ".scale", shape: [q.rows], dtype: .f32), .floats(q.scales)))
            record.quantized.append(name)
        }
        for p in store.parameters.reversed() {
            let value = store.value(p.name)
            let isLinearWeight = p.shape.count == 2 && (kind == "mlp" && p.name.hasPrefix("layers.") && p.name.hasSuffix(".weight")
                                                        || kind == "cnn" && (p.name == "fc1.weight" || p.name == "fc2.weight"))
            // Convolutions and the GPT's block products are quantized, never
            // factorized; the GPT's embeddings (and so its tied head) stay Float32.
            let isQuantizedOnly = kind == "cnn" && (p.name == "conv1.weight" || p.name == "conv2.weight")
                || kind == "gpt" && GPTInt8Weights.isBlockProduct(p.name)
            if isQuantizedOnly {
                matrix(p.name, value)
                continue
            }
            guard isLinearWeight else {
                dense(p.name, value)
                continue
            }
            if let choice = options.lowRank {
                if let factors = try LowRankFactorization.factorize(value, choice: choice) {
                    log(String(format: "%@ %@ → rank %d (%.1f%% of the energy kept)", p.name, "\(p.shape)",
                               factors.rank, factors.keptEnergyFraction * 100))
                    record.factorized.append(.init(name: p.name, shape: p.shape, rank: factors.rank,
                                                   keptEnergy: factors.keptEnergyFraction))
                    matrix(p.name + ".u", factors.u)
                    matrix(p.name + ".v", factors.v)
                    continue
                }
                log("\(p.name) \(p.shape): not factorized, the rank chosen would not store fewer weights")
            }
            matrix(p.name, value)
        }
        return out
    }

    /// Writes the checkpoint files; `trainer.json` last, so a checkpoint
    /// interrupted midway fails verification instead of loading half-written.
    static func write(_ tensors: [(SafetensorsEntry, Payload)], to directory: URL, source: LoadedCheckpoint,
                      record: CompressionRecord, sparseShapes: [String: [Int]] = [:]) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let statePath = directory.appendingPathComponent(CheckpointStore.stateFile).path
        try? FileManager.default.removeItem(atPath: statePath)
        let modelPath = directory.appendingPathComponent(CheckpointStore.modelFile).path
        var metadata = ["producer": "swift-ddp", "step": "\(source.state.step)", "compression": record.json()]
        if !sparseShapes.isEmpty { metadata[SparseTensorLayout.metadataKey] = SparseTensorLayout.metadata(sparseShapes) }
        let writer = try SafetensorsWriter(path: modelPath, entries: tensors.map(\.0), metadata: metadata)
        for (_, payload) in tensors {
            switch payload {
            case .floats(let values): try writer.append(values)
            case .int8(let values): try writer.append(values)
            case .bytes(let values): try writer.append(values)
            }
        }
        var state = source.state
        let (modelDigest, modelBytes) = try writer.finish()
        state.files = [CheckpointStore.modelFile: .init(bytes: modelBytes, sha256: modelDigest)]
        if let tokenizer = source.state.files[CheckpointStore.tokenizerFile] {
            let bytes = try Data(contentsOf: source.directory.appendingPathComponent(CheckpointStore.tokenizerFile))
            _ = try writeFileSynced(directory.appendingPathComponent(CheckpointStore.tokenizerFile).path, bytes)
            state.files[CheckpointStore.tokenizerFile] = tokenizer
        }
        let optimizer = try SafetensorsWriter(
            path: directory.appendingPathComponent(CheckpointStore.optimizerFile).path, entries: [],
            metadata: ["compressed": "no optimizer state: a compressed checkpoint is for inference"])
        let (digest, bytes) = try optimizer.finish()
        state.files[CheckpointStore.optimizerFile] = .init(bytes: bytes, sha256: digest)
        try writeFileSynced(statePath, try state.encoded())
        try syncDirectory(directory)
    }

    /// Parameters, size, evaluation and latency of a loaded checkpoint.
    static func measure(_ loaded: LoadedCheckpoint, on split: Dataset, runs: Int) throws -> ModelMeasurement {
        let file = try SafetensorsFile(path: loaded.directory.appendingPathComponent(CheckpointStore.modelFile).path,
                                       dtypes: [.f32, .i8, .u8])
        var nonzero = 0
        for name in file.denseNames where !name.hasSuffix(".scale") {
            switch try file.entry(name).dtype {
            case .f32: nonzero += try file.floats(name).reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
            case .i8: nonzero += try file.int8s(name).reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
            case .u8: break
            }
        }
        let model = loaded.model
        return ModelMeasurement(parameters: model.parameterCount, nonzero: nonzero, bytes: loaded.modelBytes,
                                evaluation: evaluateInference(model, on: split, loss: loaded.loss),
                                latencyBatch1: medianLatency(model, on: split, batch: 1, runs: runs * 5),
                                latencyBatch256: medianLatency(model, on: split, batch: 256, runs: runs))
    }
}
