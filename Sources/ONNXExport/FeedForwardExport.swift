import DataPipeline
import NeuralNet
import TensorCore

/// The ONNX graph of an ``InferenceNetwork``: the MLP and the LeNet CNN, in
/// whatever form compression left their weights.
///
/// Each stage becomes the operator computing the same function: a Linear
/// layer `Gemm` (`transB`, on the stored `[outputs, inputs]` weight), a
/// convolution `Conv`, pooling `MaxPool`, and so on. int8 weights are
/// written dequantized to Float32 (`code · scale` per row): the graph
/// computes in Float32 with the int8 model's weights, without the rounding
/// of the activations that the project's int8 path adds; a low-rank layer stays two
/// `Gemm`s, `v` then `u`, so the file keeps its smaller size; pruned weights
/// are dense with their zeros.
enum FeedForwardExport {
    /// - Parameters:
    ///   - network: The loaded network.
    ///   - steps: The input preprocessing, applied first.
    ///   - sampleShape: One raw sample's shape, the graph input's after the batch.
    ///   - probabilities: Whether to add a `probabilities` output (softmax of the logits).
    ///   - checkpoint: Named in errors.
    static func graph(_ network: InferenceNetwork, steps: [PreprocessingStep], sampleShape: [Int],
                      classes: Int, probabilities: Bool, checkpoint: String) throws -> ONNXGraph {
        let b = ONNXGraphBuilder()
        b.reserve(ONNXExporter.inputName)
        var x = b.preprocess(ONNXExporter.inputName, steps: steps, sampleShape: sampleShape)
        if sampleShape != network.inputShape {
            // E.g. an MLP on MNIST: images [1, 28, 28] in, 784 features to the first layer.
            x = b.apply("Reshape", [x, b.int64s("network_input_shape", [-1] + network.inputShape)], hint: "network_input")
        }
        for (name, layer) in network.layers {
            x = try stage(name, layer, input: x, builder: b, checkpoint: checkpoint)
        }
        // InferenceNetwork.logits hands back [batch, outputs] whatever the last stage's shape.
        let logits = b.apply("Flatten", [x], [.int("axis", 1)], hint: "", output: ONNXExporter.logitsName)
        var outputs = [ONNXValueInfo(name: logits, elementType: .float, shape: [.named(ONNXExporter.batchDimension), .fixed(classes)])]
        if probabilities {
            let p = b.apply("Softmax", [logits], [.int("axis", -1)], hint: "", output: ONNXExporter.probabilitiesName)
            outputs.append(ONNXValueInfo(name: p, elementType: .float, shape: outputs[0].shape))
        }
        let input = ONNXValueInfo(name: ONNXExporter.inputName, elementType: .float,
                                  shape: [.named(ONNXExporter.batchDimension)] + sampleShape.map { .fixed($0) })
        return b.graph(name: "swift-ddp", inputs: [input], outputs: outputs)
    }

    /// The nodes of one stage applied to `input`; returns the stage's output.
    private static func stage(_ name: String, _ layer: InferenceLayer, input x: String,
                              builder b: ONNXGraphBuilder, checkpoint: String) throws -> String {
        func tensor(_ suffix: String, _ t: Tensor) -> String { b.floats(name + suffix, t.array, shape: t.shape) }
        switch layer {
        case let dense as DenseLinear:
            return b.linear(x, weight: tensor(".weight", dense.weight), bias: dense.bias.map { tensor(".bias", $0) }, hint: name)
        case let quantized as QuantizedLinear:
            return b.linear(x, weight: tensor(".weight", quantized.weight.dequantized()),
                            bias: quantized.bias.map { tensor(".bias", $0) }, hint: name)
        case let conv as QuantizedConv2d:
            let (k, p, s) = (conv.kernel, conv.padding, conv.stride)
            let weight = conv.weight.dequantized().reshaped([conv.weight.rows, conv.inChannels, k, k])
            let y = b.apply("Conv", [x, tensor(".weight", weight), tensor(".bias", conv.bias)],
                            [.ints("kernel_shape", [k, k]), .ints("strides", [s, s]), .ints("pads", [p, p, p, p])], hint: name)
            guard let pool = conv.reluPool else { return y }
            let relu = b.apply("Relu", [y], hint: name + ".relu")
            return b.apply("MaxPool", [relu], [.ints("kernel_shape", [pool, pool]), .ints("strides", [pool, pool])],
                           hint: name + ".pool")
        case let frozen as FrozenLayer:
            switch frozen.layer {
            case is ReLU:
                return b.apply("Relu", [x], hint: name)
            case is Tanh:
                return b.apply("Tanh", [x], hint: name)
            case is GELU:
                return b.gelu(x, hint: name)
            case is Flatten:
                return b.apply("Flatten", [x], [.int("axis", 1)], hint: name)
            case let pool as MaxPool2d:
                return b.apply("MaxPool", [x], [.ints("kernel_shape", [pool.kernel, pool.kernel]),
                                                .ints("strides", [pool.stride, pool.stride])], hint: name)
            case let conv as Conv2d:
                let p = conv.padding
                return b.apply("Conv", [x, tensor(".weight", frozen.parameter("weight")), tensor(".bias", frozen.parameter("bias"))],
                               [.ints("kernel_shape", [conv.kernel, conv.kernel]), .ints("strides", [conv.stride, conv.stride]),
                                .ints("pads", [p, p, p, p])], hint: name)
            default:
                throw ONNXExportError.unsupportedLayer(checkpoint: checkpoint, layer: name, kind: "\(type(of: frozen.layer))")
            }
        default:
            throw ONNXExportError.unsupportedLayer(checkpoint: checkpoint, layer: name, kind: "\(type(of: layer))")
        }
    }
}
