import TensorCore

/// A 2-D convolution over NCHW tensors, lowered onto `sgemm` through im2col.
///
/// The weight is `[outChannels, inChannels, kernel, kernel]`, the bias
/// `[outChannels]`. For each sample the input patches are unfolded into a
/// `[inChannels·k·k, outH·outW]` matrix, so the convolution is one product
/// `W · cols`. The unfolded patches of the whole batch are kept for the
/// weight gradient.
public final class Conv2d: Layer {
    /// Input channels.
    public let inChannels: Int
    /// Output channels.
    public let outChannels: Int
    /// The square kernel's side.
    public let kernel: Int
    /// The step between patches.
    public let stride: Int
    /// Zero padding on every side.
    public let padding: Int
    /// How the weight is initialized.
    public var initialization: WeightInitialization

    private var parameters = WeightAndBias()

    private var inputShape: [Int] = []
    private var columns = Workspace()
    private var columnGradient = Workspace()
    private var output = Workspace()
    private var inputGradient = Workspace()

    /// - Parameters:
    ///   - inChannels: Input channels.
    ///   - outChannels: Output channels (filters).
    ///   - kernel: The square kernel's side.
    ///   - stride: The step between patches.
    ///   - padding: Zero padding on every side.
    ///   - initialization: The weight's initialization scheme.
    public init(inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                initialization: WeightInitialization = .kaimingUniform) {
        precondition(inChannels > 0 && outChannels > 0 && kernel > 0 && stride > 0 && padding >= 0,
                     "Conv2d: invalid configuration in=\(inChannels) out=\(outChannels) kernel=\(kernel) stride=\(stride) padding=\(padding)")
        (self.inChannels, self.outChannels, self.kernel, self.stride) = (inChannels, outChannels, kernel, stride)
        (self.padding, self.initialization) = (padding, initialization)
    }

    /// The spatial output size for an input of `height` x `width`.
    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        ((height + 2 * padding - kernel) / stride + 1, (width + 2 * padding - kernel) / stride + 1)
    }

    public func parameterSpecs(prefix: String) -> [ParameterSpec] {
        [(prefix + "weight", [outChannels, inChannels, kernel, kernel], true),
         (prefix + "bias", [outChannels], false)]
    }

    public func bind(to store: ParameterStore, prefix: String) {
        parameters.bind(to: store, prefix: prefix, hasBias: true)
    }

    public func initializeParameters(seed: UInt64) {
        parameters.initialize(fanIn: inChannels * kernel * kernel, fanOut: outChannels * kernel * kernel,
                              scheme: initialization, seed: seed, layer: "Conv2d")
    }

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        guard let weight = parameters.weight, let bias = parameters.bias else { preconditionFailure("Conv2d: forward before bind") }
        precondition(input.rank == 4 && input.shape[1] == inChannels,
                     "Conv2d: expected [B, \(inChannels), H, W], got \(input.shape)")
        let (batch, height, width) = (input.shape[0], input.shape[2], input.shape[3])
        let (outH, outW) = outputSize(height: height, width: width)
        precondition(outH > 0 && outW > 0, "Conv2d: input \(height)x\(width) smaller than the kernel \(kernel)")
        inputShape = input.shape
        let patch = inChannels * kernel * kernel
        let plane = outH * outW
        let cols = columns.tensor([batch, patch, plane])
        let y = output.tensor([batch, outChannels, outH, outW])
        let inputPlane = inChannels * height * width
        let lowering = geometry(height: height, width: width)
        for b in 0..<batch {
            let colsB = cols.pointer + b * patch * plane
            Kernels.im2col(input.pointer + b * inputPlane, geometry: lowering, into: colsB)
            let yB = y.pointer + b * outChannels * plane
            for o in 0..<outChannels {
                (yB + o * plane).update(repeating: bias.pointer[o], count: plane)
            }
            sgemm(m: outChannels, n: plane, k: patch,
                  a: weight.pointer, b: colsB, beta: 1, c: yB)
        }
        return y
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard let weight = parameters.weight, let weightGradient = parameters.weightGradient,
              let biasGradient = parameters.biasGradient else {
            preconditionFailure("Conv2d: backward before bind")
        }
        let (batch, height, width) = (inputShape[0], inputShape[2], inputShape[3])
        let (outH, outW) = outputSize(height: height, width: width)
        let patch = inChannels * kernel * kernel
        let plane = outH * outW
        precondition(outputGradient.count == batch * outChannels * plane,
                     "Conv2d: output gradient \(outputGradient.shape) does not match the last forward")
        let cols = columns.tensor([batch, patch, plane])
        let dx: Tensor? = needsInputGradient ? inputGradient.tensor(inputShape) : nil
        dx?.fill(0)  // col2im accumulates overlapping patches
        let dCols = needsInputGradient ? columnGradient.tensor([patch, plane]) : nil
        let inputPlane = inChannels * height * width
        let lowering = geometry(height: height, width: width)
        let db = biasGradient.pointer
        for b in 0..<batch {
            let dyB = outputGradient.pointer + b * outChannels * plane
            let colsB = cols.pointer + b * patch * plane
            // dW += dY_b · cols_bᵀ
            sgemm(m: outChannels, n: patch, k: plane,
                  a: dyB, b: colsB, transposeB: true, beta: 1, c: weightGradient.pointer)
            for o in 0..<outChannels {
                let row = dyB + o * plane
                var sum: Float = 0
                for i in 0..<plane { sum += row[i] }
                db[o] += sum
            }
            if let dx, let dCols {
                // dCols = Wᵀ · dY_b, folded back onto the input.
                sgemm(m: patch, n: plane, k: outChannels,
                      a: weight.pointer, transposeA: true, b: dyB, beta: 0, c: dCols.pointer)
                Kernels.col2im(dCols.pointer, geometry: lowering, accumulatingInto: dx.pointer + b * inputPlane)
            }
        }
        return dx
    }

    /// The lowering of one sample: `[inChannels, height, width]` to `[inChannels·k·k, outH·outW]`.
    private func geometry(height: Int, width: Int) -> Conv2DGeometry {
        Conv2DGeometry(channels: inChannels, height: height, width: width, kernel: (kernel, kernel),
                       stride: (stride, stride), padding: (padding, padding))
    }
}
