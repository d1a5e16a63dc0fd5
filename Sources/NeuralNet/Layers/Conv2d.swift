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

    private var weight: Tensor?
    private var weightGradient: Tensor?
    private var bias: Tensor?
    private var biasGradient: Tensor?
    private var weightName = "weight"

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
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.initialization = initialization
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
        weightName = prefix + "weight"
        weight = store.value(prefix + "weight")
        weightGradient = store.gradient(prefix + "weight")
        bias = store.value(prefix + "bias")
        biasGradient = store.gradient(prefix + "bias")
    }

    public func initializeParameters(seed: UInt64) {
        guard let weight, let bias else { preconditionFailure("Conv2d: initializeParameters before bind") }
        initializeWeight(weight, name: weightName, fanIn: inChannels * kernel * kernel,
                         fanOut: outChannels * kernel * kernel, scheme: initialization, seed: seed)
        bias.fill(0)
    }

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        guard let weight, let bias else { preconditionFailure("Conv2d: forward before bind") }
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
        for b in 0..<batch {
            let colsB = cols.pointer + b * patch * plane
            im2col(input.pointer + b * inputPlane, height: height, width: width,
                   outH: outH, outW: outW, into: colsB)
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
        guard let weight, let weightGradient, let biasGradient else {
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
                col2im(dCols.pointer, height: height, width: width, outH: outH, outW: outW,
                       into: dx.pointer + b * inputPlane)
            }
        }
        return dx
    }

    /// The output columns `ox` whose input column `ox·stride - padding + kj` lies
    /// inside `0..<width`, so the inner loops run without bounds tests.
    @inline(__always)
    private func validColumns(kj: Int, width: Int, outW: Int) -> Range<Int> {
        // ox·stride ≥ padding - kj  and  ox·stride ≤ width - 1 + padding - kj
        let low = max(0, (padding - kj + stride - 1) / stride)
        let upper = width - 1 + padding - kj
        let high = upper < 0 ? 0 : min(outW, upper / stride + 1)
        return low..<max(low, high)
    }

    /// Unfolds one sample `[C, H, W]` into `[C·k·k, outH·outW]`, zeros where the
    /// patch overhangs the padded border.
    private func im2col(_ x: UnsafePointer<Float>, height: Int, width: Int, outH: Int, outW: Int,
                        into cols: UnsafeMutablePointer<Float>) {
        let (stride, padding, kernel) = (self.stride, self.padding, self.kernel)
        var row = cols
        for c in 0..<inChannels {
            let channel = x + c * height * width
            for ki in 0..<kernel {
                for kj in 0..<kernel {
                    let valid = validColumns(kj: kj, width: width, outW: outW)
                    for oy in 0..<outH {
                        let iy = oy * stride - padding + ki
                        let out = row + oy * outW
                        if iy < 0 || iy >= height || valid.isEmpty {
                            out.update(repeating: 0, count: outW)
                            continue
                        }
                        out.update(repeating: 0, count: valid.lowerBound)
                        // Input column of ox is base + ox·stride.
                        let line = channel + iy * width, base = kj - padding
                        if stride == 1 {
                            (out + valid.lowerBound).update(from: line + (base + valid.lowerBound), count: valid.count)
                        } else {
                            for ox in valid { out[ox] = line[base + ox * stride] }
                        }
                        (out + valid.upperBound).update(repeating: 0, count: outW - valid.upperBound)
                    }
                    row += outH * outW
                }
            }
        }
    }

    /// Adds `[C·k·k, outH·outW]` patch gradients back onto one sample `[C, H, W]`.
    private func col2im(_ cols: UnsafePointer<Float>, height: Int, width: Int, outH: Int, outW: Int,
                        into dx: UnsafeMutablePointer<Float>) {
        let (stride, padding, kernel) = (self.stride, self.padding, self.kernel)
        var row = cols
        for c in 0..<inChannels {
            let channel = dx + c * height * width
            for ki in 0..<kernel {
                for kj in 0..<kernel {
                    let valid = validColumns(kj: kj, width: width, outW: outW)
                    for oy in 0..<outH {
                        let iy = oy * stride - padding + ki
                        if iy < 0 || iy >= height { continue }
                        let line = channel + iy * width, base = kj - padding
                        let source = row + oy * outW
                        if stride == 1 {
                            // Contiguous on both sides: a loop the compiler vectorizes.
                            let target = line + (base + valid.lowerBound), from = source + valid.lowerBound
                            for i in 0..<valid.count { target[i] += from[i] }
                        } else {
                            for ox in valid { line[base + ox * stride] += source[ox] }
                        }
                    }
                    row += outH * outW
                }
            }
        }
    }
}
