import TensorCore

/// Stochastic gradient descent with optional momentum, Nesterov momentum
/// and L2 weight decay, following PyTorch's `torch.optim.SGD`:
///
///     g = grad + weightDecay * p           (decaying parameters only)
///     b = g                                (first step)
///     b = momentum * b + (1 - dampening) * g   (later steps)
///     g = nesterov ? g + momentum * b : b
///     p = p - lr * g
public final class SGD: Optimizer {
    public let parameters: ParameterStore
    public let shard: Range<Int>
    public var stepCount: Int = 0

    /// The momentum factor; 0 disables momentum (and its buffer).
    public let momentum: Float
    /// The fraction of the new gradient held back from the momentum buffer.
    public let dampening: Float
    /// Whether to use Nesterov momentum.
    public let nesterov: Bool
    /// The L2 penalty added to the gradient.
    public let weightDecay: Float
    /// Which parameters ``weightDecay`` applies to.
    public let weightDecayScope: WeightDecayScope

    /// The momentum buffer, `shard.count` elements; empty when momentum is 0.
    public let momentumBuffer: Tensor
    private let segments: [DecaySegment]

    /// Creates the optimizer with zeroed state.
    ///
    /// - Parameters:
    ///   - parameters: The store to update.
    ///   - shard: The flat range this optimizer owns; `nil` means all parameters.
    ///   - momentum: The momentum factor, in `0..<1`; 0 for plain SGD.
    ///   - dampening: Dampening of the momentum; must be 0 with Nesterov.
    ///   - nesterov: Whether to use Nesterov momentum (needs `momentum > 0`).
    ///   - weightDecay: The L2 coefficient added to the gradient.
    ///   - weightDecayScope: Which parameters weight decay applies to.
    public init(
        parameters: ParameterStore,
        shard: Range<Int>? = nil,
        momentum: Float = 0,
        dampening: Float = 0,
        nesterov: Bool = false,
        weightDecay: Float = 0,
        weightDecayScope: WeightDecayScope = .decayingParameters
    ) {
        let shard = shard ?? 0..<parameters.count
        checkShard(shard, in: parameters, optimizer: "SGD")
        precondition(momentum >= 0 && momentum < 1, "SGD: momentum \(momentum) outside [0, 1)")
        precondition(dampening >= 0 && dampening <= 1, "SGD: dampening \(dampening) outside [0, 1]")
        precondition(weightDecay >= 0, "SGD: negative weight decay \(weightDecay)")
        precondition(!nesterov || (momentum > 0 && dampening == 0),
                     "SGD: Nesterov momentum needs momentum > 0 and zero dampening")
        (self.parameters, self.shard, self.momentum, self.dampening) = (parameters, shard, momentum, dampening)
        (self.nesterov, self.weightDecay, self.weightDecayScope) = (nesterov, weightDecay, weightDecayScope)
        momentumBuffer = Tensor(zeros: [momentum > 0 ? shard.count : 0])
        segments = decaySegments(of: parameters, shard: shard, scope: weightDecayScope)
    }

    /// `["momentum"]` when momentum is on, otherwise none.
    public var stateBuffers: [(name: String, tensor: Tensor)] {
        momentum > 0 ? [("momentum", momentumBuffer)] : []
    }

    public func step(learningRate lr: Float) {
        let p = parameters.values.pointer + shard.lowerBound
        let g = parameters.gradients.pointer + shard.lowerBound
        let b = momentumBuffer.pointer
        for segment in segments {
            let wd = segment.decays ? weightDecay : 0
            if momentum == 0 {
                sgdPlainUpdate(p, g, segment.range, learningRate: lr, weightDecay: wd)
            } else {
                sgdMomentumUpdate(p, g, b, segment.range, learningRate: lr, weightDecay: wd, momentum: momentum,
                                  keep: 1 - dampening, first: stepCount == 0, nesterov: nesterov)
            }
        }
        stepCount += 1
    }
}

// The update loops are written on SIMD vectors: with the first-step and
// Nesterov choices inside a scalar loop the compiler kept it scalar, and this
// pass over three parameter-sized buffers was a sixth of the MLP's step.
// Each lane computes exactly what the scalar tail computes, in the same order.

/// `p -= lr * (g + wd * p)` over `range`.
private func sgdPlainUpdate(_ p: UnsafeMutablePointer<Float>, _ g: UnsafeMutablePointer<Float>, _ range: Range<Int>,
                            learningRate lr: Float, weightDecay wd: Float) {
    var i = range.lowerBound
    while i + FloatLanes.scalarCount <= range.upperBound {
        storeLanes(loadLanes(p, i) - lr * (loadLanes(g, i) + wd * loadLanes(p, i)), p, i)
        i += FloatLanes.scalarCount
    }
    while i < range.upperBound {
        p[i] -= lr * (g[i] + wd * p[i])
        i += 1
    }
}

/// The momentum update of ``SGD`` over `range`.
private func sgdMomentumUpdate(_ p: UnsafeMutablePointer<Float>, _ g: UnsafeMutablePointer<Float>,
                               _ b: UnsafeMutablePointer<Float>, _ range: Range<Int>,
                               learningRate lr: Float, weightDecay wd: Float, momentum mu: Float, keep: Float,
                               first: Bool, nesterov: Bool) {
    var i = range.lowerBound
    while i + FloatLanes.scalarCount <= range.upperBound {
        let d = loadLanes(g, i) + wd * loadLanes(p, i)
        let buffer = first ? d : mu * loadLanes(b, i) + keep * d
        storeLanes(buffer, b, i)
        storeLanes(loadLanes(p, i) - lr * (nesterov ? d + mu * buffer : buffer), p, i)
        i += FloatLanes.scalarCount
    }
    while i < range.upperBound {
        let d = g[i] + wd * p[i]
        let buffer = first ? d : mu * b[i] + keep * d
        b[i] = buffer
        p[i] -= lr * (nesterov ? d + mu * buffer : buffer)
        i += 1
    }
}
