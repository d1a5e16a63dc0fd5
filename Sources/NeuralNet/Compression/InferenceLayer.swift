import TensorCore

/// One stage of an ``InferenceNetwork``: forward only, weights fixed.
///
/// The returned tensor lives in the layer's workspace and stays valid until
/// the layer's next call.
public protocol InferenceLayer: AnyObject {
    /// Scalars the layer stores.
    var parameterCount: Int { get }

    /// Runs the layer on a batch.
    func forward(_ input: Tensor) -> Tensor
}

/// A trainable ``Layer`` with fixed weights (activations, convolutions,
/// pooling, flattening), run in inference mode.
public final class FrozenLayer: InferenceLayer {
    /// The wrapped layer.
    public let layer: Layer
    public let parameterCount: Int
    // Keeps the layer's bound parameter views alive.
    private let store: ParameterStore

    /// Wraps `layer`, giving it its parameters.
    ///
    /// - Parameters:
    ///   - layer: A fresh, unbound layer.
    ///   - parameters: Values by the layer's local names (`weight`, `bias`),
    ///     each of the shape the layer asks for.
    public init(_ layer: Layer, parameters: [String: Tensor] = [:]) {
        let specs = layer.parameterSpecs(prefix: "")
        precondition(Set(specs.map(\.name)) == Set(parameters.keys),
                     "FrozenLayer: \(type(of: layer)) needs \(specs.map(\.name).sorted()), got \(parameters.keys.sorted())")
        let store = ParameterStore(specs)
        for spec in specs {
            let value = parameters[spec.name]!
            precondition(value.shape == spec.shape,
                         "FrozenLayer: \(spec.name) of \(type(of: layer)) must be \(spec.shape), got \(value.shape)")
            store.value(spec.name).copy(from: value)
        }
        layer.bind(to: store, prefix: "")
        self.layer = layer
        self.store = store
        parameterCount = store.count
    }

    public func forward(_ input: Tensor) -> Tensor {
        layer(input)
    }

    /// The value of one of the layer's parameters by its local name
    /// (`weight`, `bias`): what an exporter reads to write the layer elsewhere.
    public func parameter(_ name: String) -> Tensor {
        store.value(name)
    }
}

/// `y = x Wᵀ + b` with a Float32 weight `[outputs, inputs]`.
public final class DenseLinear: InferenceLayer {
    /// `[outputs, inputs]`.
    public let weight: Tensor
    /// `[outputs]`, or none.
    public let bias: Tensor?
    private var output = Workspace()

    /// - Parameters:
    ///   - weight: `[outputs, inputs]`.
    ///   - bias: `[outputs]`, or `nil`.
    public init(weight: Tensor, bias: Tensor?) {
        precondition(weight.rank == 2, "DenseLinear: weight must be [outputs, inputs], got \(weight.shape)")
        precondition(bias == nil || bias!.count == weight.shape[0],
                     "DenseLinear: bias \(bias!.shape) does not match \(weight.shape[0]) outputs")
        self.weight = weight
        self.bias = bias
    }

    public var parameterCount: Int { weight.count + (bias?.count ?? 0) }

    public func forward(_ input: Tensor) -> Tensor {
        let outputs = weight.shape[0], inputs = weight.shape[1]
        precondition(input.count % inputs == 0 && input.count > 0,
                     "DenseLinear: input \(input.shape) is not a batch of \(inputs) features")
        let rows = input.count / inputs
        let y = output.tensor([rows, outputs])
        Kernels.linearForward(out: y.pointer, input: input.pointer, weight: weight.pointer, bias: bias?.pointer,
                              rows: rows, inChannels: inputs, outChannels: outputs)
        return y
    }
}

/// `y = x Wᵀ + b` with `W` held in int8 with per-output-channel scales and
/// the activations quantized per row at run time: the product runs in
/// integers (``int8Product(m:n:k:a:lda:b:ldb:c:ldc:)``), never expanding
/// `W` to Float32.
public final class QuantizedLinear: InferenceLayer {
    /// The quantized weight, `[outputs, inputs]`.
    public let weight: QuantizedMatrix
    /// `[outputs]`, or none.
    public let bias: Tensor?
    private var output = Workspace()
    private let scratch = Int8Scratch()

    /// - Parameters:
    ///   - weight: The quantized weight.
    ///   - bias: `[outputs]`, or `nil`.
    public init(weight: QuantizedMatrix, bias: Tensor?) {
        precondition(bias == nil || bias!.count == weight.rows,
                     "QuantizedLinear: bias \(bias!.shape) does not match \(weight.rows) outputs")
        (self.weight, self.bias) = (weight, bias)
    }

    public var parameterCount: Int { weight.values.count + weight.scales.count + (bias?.count ?? 0) }

    public func forward(_ input: Tensor) -> Tensor {
        let outputs = weight.rows, inputs = weight.columns
        precondition(input.count % inputs == 0 && input.count > 0,
                     "QuantizedLinear: input \(input.shape) is not a batch of \(inputs) features")
        let rows = input.count / inputs
        let y = output.tensor([rows, outputs])
        weight.withView { view in
            Kernels.int8LinearForward(out: y.pointer, input: input.pointer, weight: view, bias: bias?.pointer,
                                      rows: rows, scratch: scratch)
        }
        return y
    }
}

/// A 2-D convolution with int8 weights (one scale per output channel) and
/// each input image quantized at run time:
/// ``Kernels/int8ConvolutionForward(out:input:geometry:weight:bias:batch:scratch:)``.
public final class QuantizedConv2d: InferenceLayer {
    /// `[outChannels, inChannels · kernel · kernel]`, the weight's patch order.
    public let weight: QuantizedMatrix
    /// `[outChannels]`.
    public let bias: Tensor
    public let inChannels: Int
    public let kernel: Int
    public let stride: Int
    public let padding: Int
    /// The window of a ReLU and max pooling fused after the convolution, or nil.
    public let reluPool: Int?
    private var output = Workspace()
    private let scratch = Int8Scratch()

    /// - Parameters:
    ///   - weight: The quantized `[outChannels, inChannels, kernel, kernel]` weight, flattened per channel.
    ///   - bias: `[outChannels]`.
    ///   - inChannels, kernel, stride, padding: As in ``Conv2d``.
    ///   - reluPool: Fuses a ReLU and a ``MaxPool2d`` of this window (and
    ///     stride) after the convolution, with the same result as the three
    ///     layers, bit for bit.
    public init(weight: QuantizedMatrix, bias: Tensor, inChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                reluPool: Int? = nil) {
        precondition(weight.columns == inChannels * kernel * kernel,
                     "QuantizedConv2d: weight rows of \(weight.columns) do not fit \(inChannels) channels of \(kernel)x\(kernel)")
        precondition(bias.count == weight.rows, "QuantizedConv2d: bias \(bias.shape) for \(weight.rows) channels")
        (self.weight, self.bias, self.inChannels, self.kernel) = (weight, bias, inChannels, kernel)
        precondition(reluPool.map { $0 > 0 } ?? true, "QuantizedConv2d: pooling window must be positive")
        (self.stride, self.padding, self.reluPool) = (stride, padding, reluPool)
    }

    public var parameterCount: Int { weight.values.count + weight.scales.count + bias.count }

    public func forward(_ input: Tensor) -> Tensor {
        precondition(input.rank == 4 && input.shape[1] == inChannels,
                     "QuantizedConv2d: expected [B, \(inChannels), H, W], got \(input.shape)")
        let geometry = Conv2DGeometry(channels: inChannels, height: input.shape[2], width: input.shape[3],
                                      kernel: (kernel, kernel), stride: (stride, stride), padding: (padding, padding))
        precondition(geometry.outputHeight > 0 && geometry.outputWidth > 0,
                     "QuantizedConv2d: input \(input.shape) smaller than the kernel \(kernel)")
        let pool = reluPool ?? 1
        precondition(geometry.outputHeight >= pool && geometry.outputWidth >= pool,
                     "QuantizedConv2d: output \(geometry.outputHeight)x\(geometry.outputWidth) smaller than the pooling window \(pool)")
        let y = output.tensor([input.shape[0], weight.rows, geometry.outputHeight / pool, geometry.outputWidth / pool])
        weight.withView { view in
            Kernels.int8ConvolutionForward(out: y.pointer, input: input.pointer, geometry: geometry, weight: view,
                                           bias: bias.pointer, batch: input.shape[0], reluPool: reluPool, scratch: scratch)
        }
        return y
    }
}
