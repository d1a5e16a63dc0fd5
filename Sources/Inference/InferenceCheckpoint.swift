import Checkpoint
import DataPipeline
import Foundation
import NeuralNet
import RunConfig
import TensorCore

/// A checkpoint loaded for inference: plain or compressed, the same API.
public struct LoadedCheckpoint {
    /// The checkpoint directory.
    public let directory: URL
    /// The model, ready for ``InferenceModel/logits(_:)``.
    public let model: InferenceModel
    /// The run config the model was trained with (`trainer.json`).
    public let config: ResolvedConfig
    /// The checkpoint's trainer state (step, vocabulary, file records).
    public let state: TrainerState
    /// What compression did, or `nil` for a plain checkpoint.
    public let compression: CompressionRecord?
    /// The size of `model.safetensors` in bytes.
    public let modelBytes: Int

    /// The loss the model was trained with, for evaluating its logits.
    public var loss: LossKind {
        config.run.model.loss
    }
}

/// The one place that reads checkpoints for inference: `ddp eval`,
/// `predict`, `serve` and `compress` all load through it.
///
/// A checkpoint's `model.safetensors` is read tensor by tensor, and each
/// weight's form comes from the tensors themselves:
///
/// | stored                                          | meaning                       |
/// |-------------------------------------------------|-------------------------------|
/// | `NAME` F32                                      | dense (or pruned) weights     |
/// | `NAME` I8 + `NAME.scale` F32 `[rows]`           | int8, per output channel      |
/// | `NAME.u` `[out, r]` + `NAME.v` `[r, in]`        | low rank, `W ≈ u · v`         |
/// | `NAME.values` + `NAME.mask` U8                  | sparse (``SparseTensorLayout``), read as the dense tensor |
///
/// and `.u`/`.v` may each be I8 with their own `.scale`. MLPs and CNNs become
/// an ``InferenceNetwork`` (int8 weights stay int8 in memory); a GPT runs as
/// its trainable model, its int8 block products (if any) as ``GPT/int8Weights``.
public enum InferenceCheckpoint {
    /// Resolves `path` to a checkpoint directory: the directory itself when it
    /// holds `trainer.json`, else the newest valid checkpoint of a run
    /// directory or of a `checkpoints` directory.
    ///
    /// - Throws: ``CheckpointError`` when nothing valid is there.
    public static func resolve(_ path: String) throws -> URL {
        let url = URL(fileURLWithPath: path)
        if FileManager.default.fileExists(atPath: url.appendingPathComponent(CheckpointStore.stateFile).path) {
            return url
        }
        guard FileManager.default.fileExists(atPath: path) else { throw CheckpointError.missingFile(path) }
        let nested = url.appendingPathComponent("checkpoints")
        let store = FileManager.default.fileExists(atPath: nested.path) ? CheckpointStore(root: nested) : CheckpointStore(root: url)
        guard let found = try store.newestValid().found else {
            throw CheckpointError.noValidCheckpoint(directory: path, rejected: [])
        }
        return found.url
    }

    /// Loads the checkpoint at `path` (see ``resolve(_:)``) for inference,
    /// after checking every file's size and SHA-256.
    ///
    /// - Throws: ``CheckpointError`` for missing or corrupted files,
    ///   `ConfigError` when its config no longer parses, or
    ///   ``InferenceError/unrecognizedModel(path:reason:)``.
    public static func load(_ path: String) throws -> LoadedCheckpoint {
        let directory = try resolve(path)
        let state = try CheckpointStore.verify(directory)
        let config = try ResolvedConfig.parse(yaml: state.config, source: directory.path + " (its config)")
        let file = try SafetensorsFile(path: directory.appendingPathComponent(CheckpointStore.modelFile).path, dtypes: [.f32, .i8, .u8])
        let model = try buildModel(file, config: config)
        return LoadedCheckpoint(directory: directory, model: model, config: config, state: state,
                                compression: file.metadata["compression"].flatMap(CompressionRecord.parse),
                                modelBytes: file.byteCount)
    }

    /// The inference model the tensors of `file` describe, shaped by `config`.
    static func buildModel(_ file: SafetensorsFile, config: ResolvedConfig) throws -> InferenceModel {
        func fail(_ reason: String) -> InferenceError { .unrecognizedModel(path: file.path, reason: reason) }
        switch config.run.model.architecture {
        case .mlp(_, let activation, _):
            var linears: [(weights: LinearWeights, bias: Tensor?)] = []
            while file.contains("layers.\(linears.count).bias") {
                let i = linears.count
                linears.append((try linearWeights(file, "layers.\(i).weight"), try dense(file, "layers.\(i).bias")))
            }
            guard !linears.isEmpty else { throw fail("no tensor layers.0.bias: not an MLP checkpoint") }
            for i in 1..<linears.count where linears[i].weights.inputs != linears[i - 1].weights.outputs {
                throw fail("layers.\(i) takes \(linears[i].weights.inputs) inputs, layers.\(i - 1) gives \(linears[i - 1].weights.outputs)")
            }
            return InferenceNetwork.mlp(linears: linears, activation: activation)
        case .cnn:
            let conv1 = try file.entry("conv1.weight"), conv2 = try file.entry("conv2.weight")
            guard conv1.shape.count == 4, conv2.shape.count == 4, conv2.shape[1] == conv1.shape[0],
                  conv1.shape[2] == conv2.shape[2], conv1.shape[2] == conv1.shape[3], conv2.shape[2] == conv2.shape[3],
                  conv1.shape.allSatisfy({ $0 > 0 }), conv2.shape.allSatisfy({ $0 > 0 }) else {
                throw fail("conv1.weight \(conv1.shape) and conv2.weight \(conv2.shape) are not a LeNet's")
            }
            let fc1 = try linearWeights(file, "fc1.weight"), fc2 = try linearWeights(file, "fc2.weight")
            let kernel = conv1.shape[2]
            var configuration = LeNet.Configuration(inputChannels: conv1.shape[1], imageSize: 1,
                                                    conv1Channels: conv1.shape[0], conv2Channels: conv2.shape[0],
                                                    kernel: kernel, hidden: fc1.outputs, classes: fc2.outputs)
            let side = Int(Double(fc1.inputs / conv2.shape[0]).squareRoot().rounded())
            // Several image sides pool down to the same feature map; the data
            // set says which, else the smallest that fits is taken.
            let known = ["mnist": 28, "fashion_mnist": 28][config.run.data.dataset]
            configuration.imageSize = known ?? ((side * 2 + kernel - 1) * 2 + kernel - 1)
            guard configuration.featureSize == side, configuration.flatFeatures == fc1.inputs else {
                throw fail("fc1 takes \(fc1.inputs) features, which no \(configuration.imageSize)-pixel image gives")
            }
            func bias(_ name: String, channels: Int) throws -> Tensor {
                let b = try dense(file, name)
                guard b.count == channels else { throw fail("\(name) has shape \(b.shape), expected [\(channels)]") }
                return b
            }
            return InferenceNetwork.lenet(configuration,
                                          conv1: (try matrix(file, "conv1.weight", rank: 4),
                                                  try bias("conv1.bias", channels: conv1.shape[0])),
                                          conv2: (try matrix(file, "conv2.weight", rank: 4),
                                                  try bias("conv2.bias", channels: conv2.shape[0])),
                                          fc1: (fc1, try dense(file, "fc1.bias")), fc2: (fc2, try dense(file, "fc2.bias")))
        case .gpt(let layers, let heads, let width, let context):
            let embedding = try file.entry("wte.weight")
            let model = GPT(GPTConfiguration(vocabSize: embedding.shape[0], contextLength: context,
                                             layers: layers, heads: heads, width: width, dropout: 0),
                            dropoutSeed: 0)
            var quantized: [String: QuantizedMatrix] = [:]
            for p in model.parameters.parameters {
                let entry = try file.entry(p.name)
                guard entry.shape == p.shape else { throw fail("tensor \(p.name) has shape \(entry.shape), expected \(p.shape)") }
                if entry.dtype == .i8, case .int8(let q) = try matrix(file, p.name) {
                    // The Float32 copy keeps the store whole (for export); the products read the codes.
                    quantized[p.name] = q
                    model.parameters.value(p.name).copy(from: q.dequantized())
                } else {
                    model.parameters.value(p.name).buffer.update(fromContentsOf: try file.floats(p.name))
                }
            }
            if !quantized.isEmpty {
                var blocks: [GPTInt8Weights.Block] = []
                for l in 0..<layers {
                    let names = GPTInt8Weights.parameterNames(layer: l)
                    let products = names.compactMap { quantized.removeValue(forKey: $0) }
                    guard products.count == names.count else {
                        throw fail("layer \(l) has int8 weights for only some of \(names.joined(separator: ", "))")
                    }
                    blocks.append(.init(qkv: products[0], attentionProjection: products[1], mlpUp: products[2], mlpDown: products[3]))
                }
                guard quantized.isEmpty else {
                    throw fail("int8 tensors \(quantized.keys.sorted().joined(separator: ", ")) are not a GPT block's products")
                }
                model.int8Weights = GPTInt8Weights(blocks: blocks, configuration: model.configuration)
            }
            return ModelInference(model, inputShape: [context])
        }
    }

    /// A Linear layer's weight in whichever form it was stored.
    private static func linearWeights(_ file: SafetensorsFile, _ name: String) throws -> LinearWeights {
        if file.contains(name + ".u") {
            let u = try matrix(file, name + ".u"), v = try matrix(file, name + ".v")
            guard u.shape[1] == v.shape[0] else {
                throw InferenceError.unrecognizedModel(path: file.path, reason: "\(name).u \(u.shape) and \(name).v \(v.shape) do not chain")
            }
            return .factored(u: u, v: v)
        }
        return .full(try matrix(file, name))
    }

    /// A weight of `rank` dimensions (2 for a Linear layer, 4 for a
    /// convolution), F32, or I8 with its `.scale` (then one row per output
    /// channel, the other dimensions flattened).
    private static func matrix(_ file: SafetensorsFile, _ name: String, rank: Int = 2) throws -> MatrixWeights {
        let entry = try file.entry(name)
        guard entry.shape.count == rank, entry.shape.allSatisfy({ $0 > 0 }) else {
            throw InferenceError.unrecognizedModel(path: file.path,
                                                   reason: "\(name) has shape \(entry.shape), expected \(rank) positive dimensions")
        }
        switch entry.dtype {
        case .f32:
            return .dense(try dense(file, name))
        case .i8:
            let scales = try file.floats(name + ".scale")
            guard scales.count == entry.shape[0] else {
                throw InferenceError.unrecognizedModel(path: file.path, reason: "\(name).scale has \(scales.count) values for \(entry.shape[0]) rows")
            }
            return .int8(QuantizedMatrix(rows: entry.shape[0], columns: entry.shape.dropFirst().reduce(1, *),
                                         values: try file.int8s(name), scales: scales))
        case .u8:
            throw InferenceError.unrecognizedModel(path: file.path, reason: "\(name) is U8; weights are F32 or I8")
        }
    }

    /// A Float32 tensor as a new ``Tensor``.
    private static func dense(_ file: SafetensorsFile, _ name: String) throws -> Tensor {
        let entry = try file.entry(name)
        return Tensor(shape: entry.shape, values: try file.floats(name))
    }
}
