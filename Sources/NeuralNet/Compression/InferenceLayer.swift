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

/// `y = x Wᵀ + b` with `W` held in int8 with per-output-channel scales,
/// never expanded to Float32 as a whole.
///
/// Small batches (up to ``directBatchLimit`` rows) use a fused kernel that
/// reads the int8 codes directly: `y = scale · (q · x) + b`, one pass over
/// the weight. Larger batches, where the product is compute-bound, expand
/// ``blockRows`` output channels at a time into a small reused scratch and
/// hand each block to `sgemm`, so the int8 model keeps BLAS speed while its
/// Float32 footprint is one block.
public final class QuantizedLinear: InferenceLayer {
    /// The quantized weight, `[outputs, inputs]`.
    public let weight: QuantizedMatrix
    /// `[outputs]`, or none.
    public let bias: Tensor?
    /// Output channels expanded per `sgemm` block.
    public let blockRows: Int
    /// The largest batch the fused int8 kernel handles.
    public let directBatchLimit: Int
    private var output = Workspace()
    private let scratch: Tensor

    /// - Parameters:
    ///   - weight: The quantized weight.
    ///   - bias: `[outputs]`, or `nil`.
    ///   - directBatchLimit: The largest batch for the fused kernel.
    ///   - scratchElements: The Float32 scratch size that bounds a block
    ///     (default 256 K floats, 1 MiB). Each `sgemm` call packs the whole
    ///     input batch again, so blocks must be tall enough to amortize that:
    ///     128 KiB blocks made a 1024-wide layer at batch 256 half again slower.
    public init(weight: QuantizedMatrix, bias: Tensor?, directBatchLimit: Int = 4, scratchElements: Int = 262_144) {
        precondition(bias == nil || bias!.count == weight.rows,
                     "QuantizedLinear: bias \(bias!.shape) does not match \(weight.rows) outputs")
        precondition(directBatchLimit >= 0 && scratchElements > 0,
                     "QuantizedLinear: directBatchLimit must be >= 0 and scratchElements > 0")
        (self.weight, self.bias, self.directBatchLimit) = (weight, bias, directBatchLimit)
        blockRows = max(1, min(weight.rows, scratchElements / weight.columns))
        scratch = Tensor(zeros: [blockRows, weight.columns])
    }

    public var parameterCount: Int { weight.values.count + weight.scales.count + (bias?.count ?? 0) }

    public func forward(_ input: Tensor) -> Tensor {
        let outputs = weight.rows, inputs = weight.columns
        precondition(input.count % inputs == 0 && input.count > 0,
                     "QuantizedLinear: input \(input.shape) is not a batch of \(inputs) features")
        let rows = input.count / inputs
        let y = output.tensor([rows, outputs])
        if rows <= directBatchLimit {
            fusedProduct(input.pointer, rows: rows, into: y.pointer)
            return y
        }
        if let bias { Kernels.seedRows(y.pointer, with: bias.pointer, rows: rows, columns: outputs) }
        var start = 0
        while start < outputs {
            let end = min(start + blockRows, outputs)
            weight.dequantize(rows: start..<end, into: scratch.pointer)
            // Block j of the output columns: y[:, start..<end] += x · blockᵀ.
            sgemm(m: rows, n: end - start, k: inputs, a: input.pointer, b: scratch.pointer, transposeB: true,
                  beta: bias == nil ? 0 : 1, c: y.pointer + start, ldc: outputs)
            start = end
        }
        return y
    }

    private func fusedProduct(_ x: UnsafeMutablePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        let outputs = weight.rows, inputs = weight.columns
        let b = bias?.pointer
        weight.values.withUnsafeBufferPointer { codes in
            weight.scales.withUnsafeBufferPointer { scales in
                let q = codes.baseAddress!
                for r in 0..<rows {
                    let xr = x + r * inputs
                    for j in 0..<outputs {
                        let qj = q + j * inputs
                        // Sixteen lanes of partial sums let the loop vectorize:
                        // a single float accumulator pins the order of additions.
                        // Widening through Int32 maps to sign-extending shuffles;
                        // a direct Int8 → Float conversion is scalarized.
                        var lanes = SIMD16<Float>()
                        var i = 0
                        while i + 16 <= inputs {
                            let codes = UnsafeRawPointer(qj + i).loadUnaligned(as: SIMD16<Int8>.self)
                            let xs = UnsafeRawPointer(xr + i).loadUnaligned(as: SIMD16<Float>.self)
                            lanes += SIMD16<Float>(SIMD16<Int32>(truncatingIfNeeded: codes)) * xs
                            i += 16
                        }
                        var sum = lanes.sum()
                        while i < inputs {
                            sum += Float(qj[i]) * xr[i]
                            i += 1
                        }
                        y[r * outputs + j] = sum * scales[j] + (b?[j] ?? 0)
                    }
                }
            }
        }
    }
}
