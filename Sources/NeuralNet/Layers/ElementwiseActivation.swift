import TensorCore

/// A layer that applies one function to every element, with no parameters:
/// the workspaces, the shape checks and what backward keeps, written once
/// for ``ReLU``, ``Tanh`` and ``GELU``, which supply only their two loops.
public class ElementwiseActivation: Layer {
    private var output = Workspace()
    private var inputGradient = Workspace()
    private var lastInput = Tensor(zeros: [0])
    private var lastOutput = Tensor(zeros: [0])

    init() {}

    /// Where the profile counts every activation's time.
    static let profileRegion = ProfileRegion("activation", group: .kernel)

    /// `y[i] = f(x[i])` for `count` elements.
    func apply(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        preconditionFailure("\(type(of: self)) must override apply")
    }

    /// `dx[i] = dy[i] · f'(x[i])`, given the forward's input and output.
    func gradient(input x: UnsafePointer<Float>, output y: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>,
                  into dx: UnsafeMutablePointer<Float>, count: Int) {
        preconditionFailure("\(type(of: self)) must override gradient")
    }

    public final func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        let y = output.tensor(input.shape)
        KernelProfile.measure(Self.profileRegion) { apply(input.pointer, into: y.pointer, count: input.count) }
        lastInput = input
        lastOutput = y
        return y
    }

    public final func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard needsInputGradient else { return nil }
        precondition(outputGradient.count == lastOutput.count,
                     "\(type(of: self)): output gradient \(outputGradient.shape) does not match the last forward")
        let dx = inputGradient.tensor(lastOutput.shape)
        KernelProfile.measure(Self.profileRegion) {
            gradient(input: lastInput.pointer, output: lastOutput.pointer, outputGradient: outputGradient.pointer,
                     into: dx.pointer, count: dx.count)
        }
        return dx
    }
}

/// The rectifier `y = max(x, 0)`.
public final class ReLU: ElementwiseActivation {
    public override init() {}

    override func apply(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { y[i] = max(x[i], 0) }
    }

    override func gradient(input x: UnsafePointer<Float>, output y: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>,
                           into dx: UnsafeMutablePointer<Float>, count: Int) {
        // The output is positive exactly where the input was. Loading dy
        // unconditionally lets the loop vectorize into a masked select.
        for i in 0..<count {
            let g = dy[i]
            dx[i] = y[i] > 0 ? g : 0
        }
    }
}

/// The hyperbolic tangent.
public final class Tanh: ElementwiseActivation {
    public override init() {}

    override func apply(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { y[i] = tanhf(x[i]) }
    }

    override func gradient(input x: UnsafePointer<Float>, output y: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>,
                           into dx: UnsafeMutablePointer<Float>, count: Int) {
        // tanh' = 1 - tanh², from the kept output.
        for i in 0..<count { dx[i] = dy[i] * (1 - y[i] * y[i]) }
    }
}

/// The Gaussian error linear unit in its tanh approximation (as in GPT-2):
/// `y = x/2 · (1 + tanh(√(2/π) (x + 0.044715 x³)))`, through
/// ``Kernels/geluForward(out:input:count:)``, the GPT's kernel.
public final class GELU: ElementwiseActivation {
    public override init() {}

    override func apply(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        Kernels.geluForward(out: y, input: x, count: count)
    }

    override func gradient(input x: UnsafePointer<Float>, output y: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>,
                           into dx: UnsafeMutablePointer<Float>, count: Int) {
        Kernels.geluBackward(dinput: dx, input: x, dout: dy, count: count)
    }
}

#if canImport(Glibc)
import Glibc
#endif
