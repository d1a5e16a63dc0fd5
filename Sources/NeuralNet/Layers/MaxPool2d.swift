import TensorCore

/// Max pooling over NCHW tensors, without padding. The position of each
/// window's maximum is kept so backward routes the gradient to it alone.
public final class MaxPool2d: Layer {
    /// The square window's side.
    public let kernel: Int
    /// The step between windows.
    public let stride: Int

    private var inputShape: [Int] = []
    private var output = Workspace()
    private var inputGradient = Workspace()
    private let argmax = IndexWorkspace()

    /// - Parameters:
    ///   - kernel: The square window's side.
    ///   - stride: The step between windows; defaults to `kernel`.
    public init(kernel: Int, stride: Int? = nil) {
        precondition(kernel > 0 && (stride ?? kernel) > 0, "MaxPool2d: kernel and stride must be positive")
        self.kernel = kernel
        self.stride = stride ?? kernel
    }

    /// The spatial output size for an input of `height` x `width`.
    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        ((height - kernel) / stride + 1, (width - kernel) / stride + 1)
    }

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        precondition(input.rank == 4, "MaxPool2d: expected [B, C, H, W], got \(input.shape)")
        let (planes, height, width) = (input.shape[0] * input.shape[1], input.shape[2], input.shape[3])
        let (outH, outW) = outputSize(height: height, width: width)
        precondition(outH > 0 && outW > 0, "MaxPool2d: input \(height)x\(width) smaller than the window \(kernel)")
        inputShape = input.shape
        let y = output.tensor([input.shape[0], input.shape[1], outH, outW])
        let index = argmax.pointer(count: y.count)
        let x = input.pointer, yp = y.pointer
        let (kernel, stride) = (self.kernel, self.stride)
        var o = 0
        for p in 0..<planes {
            let base = p * height * width
            for oy in 0..<outH {
                for ox in 0..<outW {
                    var best = base + (oy * stride) * width + ox * stride
                    var bestValue = x[best]
                    for ki in 0..<kernel {
                        let line = base + (oy * stride + ki) * width + ox * stride
                        for kj in 0..<kernel {
                            // Selects rather than branches: maxima are unpredictable.
                            let v = x[line + kj]
                            let better = v > bestValue
                            best = better ? line + kj : best
                            bestValue = better ? v : bestValue
                        }
                    }
                    yp[o] = bestValue
                    index[o] = Int32(truncatingIfNeeded: best)
                    o += 1
                }
            }
        }
        return y
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard needsInputGradient else { return nil }
        let dx = inputGradient.tensor(inputShape)
        let (height, width) = (inputShape[2], inputShape[3])
        let (outH, outW) = outputSize(height: height, width: width)
        let outputs = inputShape[0] * inputShape[1] * outH * outW
        precondition(outputGradient.count == outputs,
                     "MaxPool2d: output gradient \(outputGradient.shape) does not match the last forward")
        dx.fill(0)
        let index = argmax.pointer(count: outputs)
        let dy = outputGradient.pointer, dxp = dx.pointer
        // Overlapping windows (stride < kernel) may share a maximum, hence +=.
        for o in 0..<outputs { dxp[Int(index[o])] += dy[o] }
        return dx
    }
}
