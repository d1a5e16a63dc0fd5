import TensorCore

/// A stored weight matrix in one of the forms compression produces.
public enum MatrixWeights: @unchecked Sendable {
    /// Float32, `[rows, columns]` (dense, or pruned with exact zeros).
    case dense(Tensor)
    /// Int8 with per-row scales.
    case int8(QuantizedMatrix)

    /// `[rows, columns]`.
    public var shape: [Int] {
        switch self {
        case .dense(let w): return w.shape
        case .int8(let q): return [q.rows, q.columns]
        }
    }

    /// The layer computing `x Wᵀ + b` with these weights.
    public func linear(bias: Tensor?) -> InferenceLayer {
        switch self {
        case .dense(let w): return DenseLinear(weight: w, bias: bias)
        case .int8(let q): return QuantizedLinear(weight: q, bias: bias)
        }
    }
}

/// The weights of one Linear layer `[outputs, inputs]`: a single matrix, or
/// the two factors of a low-rank factorization `W ≈ u · v`.
public enum LinearWeights: @unchecked Sendable {
    /// One matrix `[outputs, inputs]`.
    case full(MatrixWeights)
    /// `u [outputs, r]` and `v [r, inputs]`.
    case factored(u: MatrixWeights, v: MatrixWeights)

    /// Input features.
    public var inputs: Int {
        switch self {
        case .full(let w): return w.shape[1]
        case .factored(_, let v): return v.shape[1]
        }
    }

    /// Output features.
    public var outputs: Int {
        switch self {
        case .full(let w): return w.shape[0]
        case .factored(let u, _): return u.shape[0]
        }
    }

    /// The inference layers computing `x Wᵀ + b`, named from `name`: one
    /// layer, or `name.v` (`inputs → r`) then `name.u` (`r → outputs`, with the bias).
    public func layers(name: String, bias: Tensor?) -> [(name: String, layer: InferenceLayer)] {
        switch self {
        case .full(let w):
            return [(name, w.linear(bias: bias))]
        case .factored(let u, let v):
            precondition(u.shape[1] == v.shape[0], "LinearWeights: factors \(u.shape) and \(v.shape) do not chain")
            return [(name + ".v", v.linear(bias: nil)), (name + ".u", u.linear(bias: bias))]
        }
    }
}

/// A feed-forward network of ``InferenceLayer``s: the inference form of the
/// MLP and the LeNet CNN, whatever compression their weights went through.
public final class InferenceNetwork: InferenceModel {
    /// The stages in order, with names for diagnostics.
    public let layers: [(name: String, layer: InferenceLayer)]
    public let inputShape: [Int]

    /// - Parameters:
    ///   - layers: The stages in forward order.
    ///   - inputShape: The shape of one sample, as the first stage expects it.
    public init(layers: [(name: String, layer: InferenceLayer)], inputShape: [Int]) {
        precondition(!layers.isEmpty, "InferenceNetwork: no layers")
        precondition(!inputShape.isEmpty && inputShape.allSatisfy { $0 > 0 },
                     "InferenceNetwork: invalid input shape \(inputShape)")
        self.layers = layers
        self.inputShape = inputShape
    }

    public var parameterCount: Int { layers.reduce(0) { $0 + $1.layer.parameterCount } }

    public func logits(_ inputs: Tensor) -> Tensor {
        let sample = inputShape.reduce(1, *)
        precondition(inputs.rank >= 1 && inputs.shape[0] > 0 && inputs.count == inputs.shape[0] * sample,
                     "InferenceNetwork: expected [B] + \(inputShape) inputs, got \(inputs.shape)")
        let batch = inputs.shape[0]
        var x = inputs.reshaped([batch] + inputShape)
        for (_, layer) in layers { x = layer.forward(x) }
        return x.reshaped([batch, x.count / batch]).clone()
    }

    /// The inference form of an ``MLP``.
    ///
    /// - Parameters:
    ///   - linears: Each Linear layer's weights and bias, from the input side.
    ///   - activation: The nonlinearity between them (dropout is off at inference).
    public static func mlp(linears: [(weights: LinearWeights, bias: Tensor?)], activation: Activation) -> InferenceNetwork {
        precondition(!linears.isEmpty, "InferenceNetwork.mlp: no layers")
        var layers: [(name: String, layer: InferenceLayer)] = []
        for (i, linear) in linears.enumerated() {
            if i > 0 {
                precondition(linear.weights.inputs == linears[i - 1].weights.outputs,
                             "InferenceNetwork.mlp: layer \(i) takes \(linear.weights.inputs) inputs, the previous gives \(linears[i - 1].weights.outputs)")
                layers.append(("activations.\(i - 1)", FrozenLayer(activation.makeLayer())))
            }
            layers += linear.weights.layers(name: "layers.\(i)", bias: linear.bias)
        }
        return InferenceNetwork(layers: layers, inputShape: [linears[0].weights.inputs])
    }

    /// The inference form of a ``LeNet``: two convolutions and two Linear
    /// layers, each in any stored form.
    ///
    /// - Parameters:
    ///   - configuration: The network's shape.
    ///   - conv1, conv2: Each convolution's weight (Float32 `[out, in, k, k]`,
    ///     or int8 `[out, in · k · k]`) and bias.
    ///   - fc1, fc2: The Linear layers' weights and biases.
    public static func lenet(_ configuration: LeNet.Configuration,
                             conv1: (weights: MatrixWeights, bias: Tensor), conv2: (weights: MatrixWeights, bias: Tensor),
                             fc1: (weights: LinearWeights, bias: Tensor?),
                             fc2: (weights: LinearWeights, bias: Tensor?)) -> InferenceNetwork {
        let c = configuration
        precondition(fc1.weights.inputs == c.flatFeatures && fc1.weights.outputs == c.hidden
                     && fc2.weights.inputs == c.hidden && fc2.weights.outputs == c.classes,
                     "InferenceNetwork.lenet: Linear layers \(fc1.weights.inputs)→\(fc1.weights.outputs), \(fc2.weights.inputs)→\(fc2.weights.outputs) do not fit \(c)")
        // Each convolution is followed by ReLU and 2x2 max pooling; an int8
        // one does all three in one pass (``QuantizedConv2d/reluPool``).
        func block(_ index: Int, _ weights: MatrixWeights, bias: Tensor, inChannels: Int, outChannels: Int)
            -> [(name: String, layer: InferenceLayer)] {
            switch weights {
            case .dense(let w):
                return [("conv\(index)", FrozenLayer(Conv2d(inChannels: inChannels, outChannels: outChannels, kernel: c.kernel),
                                                     parameters: ["weight": w, "bias": bias])),
                        ("relu\(index)", FrozenLayer(ReLU())),
                        ("pool\(index)", FrozenLayer(MaxPool2d(kernel: 2)))]
            case .int8(let q):
                return [("conv\(index)", QuantizedConv2d(weight: q, bias: bias, inChannels: inChannels, kernel: c.kernel, reluPool: 2))]
            }
        }
        var layers = block(1, conv1.weights, bias: conv1.bias, inChannels: c.inputChannels, outChannels: c.conv1Channels)
            + block(2, conv2.weights, bias: conv2.bias, inChannels: c.conv1Channels, outChannels: c.conv2Channels)
        layers.append(("flatten", FrozenLayer(Flatten())))
        layers += fc1.weights.layers(name: "fc1", bias: fc1.bias)
        layers.append(("relu3", FrozenLayer(ReLU())))
        layers += fc2.weights.layers(name: "fc2", bias: fc2.bias)
        return InferenceNetwork(layers: layers, inputShape: [c.inputChannels, c.imageSize, c.imageSize])
    }
}
