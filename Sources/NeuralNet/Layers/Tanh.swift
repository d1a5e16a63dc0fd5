import TensorCore
#if canImport(Glibc)
import Glibc
#endif

/// The hyperbolic tangent.
public final class Tanh: Layer {
    private var output = Workspace()
    private var inputGradient = Workspace()
    private var lastOutput = Tensor(zeros: [0])

    public init() {}

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        let y = output.tensor(input.shape)
        let x = input.pointer, yp = y.pointer
        for i in 0..<input.count { yp[i] = tanhf(x[i]) }
        lastOutput = y
        return y
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard needsInputGradient else { return nil }
        precondition(outputGradient.count == lastOutput.count,
                     "Tanh: output gradient \(outputGradient.shape) does not match the last forward")
        let dx = inputGradient.tensor(lastOutput.shape)
        let y = lastOutput.pointer, dy = outputGradient.pointer, dxp = dx.pointer
        // tanh' = 1 - tanh², from the kept output.
        for i in 0..<dx.count { dxp[i] = dy[i] * (1 - y[i] * y[i]) }
        return dx
    }
}
