import TensorCore

/// The rectifier `y = max(x, 0)`.
public final class ReLU: Layer {
    private var output = Workspace()
    private var inputGradient = Workspace()
    private var lastOutput = Tensor(zeros: [0])

    public init() {}

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        let y = output.tensor(input.shape)
        let x = input.pointer, yp = y.pointer
        for i in 0..<input.count { yp[i] = max(x[i], 0) }
        lastOutput = y
        return y
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard needsInputGradient else { return nil }
        precondition(outputGradient.count == lastOutput.count,
                     "ReLU: output gradient \(outputGradient.shape) does not match the last forward")
        let dx = inputGradient.tensor(lastOutput.shape)
        let y = lastOutput.pointer, dy = outputGradient.pointer, dxp = dx.pointer
        // The output is positive exactly where the input was: no need to keep the input.
        // Loading dy unconditionally lets the loop vectorize into a masked select.
        for i in 0..<dx.count {
            let g = dy[i]
            dxp[i] = y[i] > 0 ? g : 0
        }
        return dx
    }
}
