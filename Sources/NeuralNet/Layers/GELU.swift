import TensorCore
#if canImport(Glibc)
import Glibc
#endif

/// The Gaussian error linear unit in its tanh approximation (as in GPT-2):
/// `y = x/2 · (1 + tanh(√(2/π) (x + 0.044715 x³)))`.
public final class GELU: Layer {
    private var output = Workspace()
    private var inputGradient = Workspace()
    private var input = Tensor(zeros: [0])

    public init() {}

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        let y = output.tensor(input.shape)
        geluForward(input.pointer, y.pointer, count: input.count)
        self.input = input
        return y
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard needsInputGradient else { return nil }
        precondition(outputGradient.count == input.count,
                     "GELU: output gradient \(outputGradient.shape) does not match the last forward")
        let dx = inputGradient.tensor(input.shape)
        geluBackward(input.pointer, outputGradient.pointer, dx.pointer, count: input.count)
        return dx
    }
}

@usableFromInline let geluScale: Float = 0.797_884_560_8  // √(2/π)
@usableFromInline let geluCubic: Float = 0.044_715

/// `y[i] = gelu(x[i])`, tanh approximation.
@inlinable
public func geluForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count {
        let v = x[i]
        let u = geluScale * (v + geluCubic * v * v * v)
        y[i] = 0.5 * v * (1 + tanhf(u))
    }
}

/// `dx[i] = dy[i] · gelu'(x[i])`, tanh approximation; `dx` may alias `dy`.
@inlinable
public func geluBackward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count {
        let v = x[i]
        let u = geluScale * (v + geluCubic * v * v * v)
        let t = tanhf(u)
        let du = geluScale * (1 + 3 * geluCubic * v * v)
        let local = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * du
        dx[i] = dy[i] * local
    }
}
