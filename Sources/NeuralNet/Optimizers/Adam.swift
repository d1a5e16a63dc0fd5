import Foundation
import TensorCore

/// Adam with L2 regularization (`torch.optim.Adam`): the weight decay term
/// is added to the gradient before the moment estimates, so adaptive scaling
/// weakens it for parameters with large gradients. Prefer ``AdamW``.
///
///     g = grad + weightDecay * p           (decaying parameters only)
///     m = beta1 * m + (1 - beta1) * g
///     v = beta2 * v + (1 - beta2) * g²
///     p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
public final class Adam: Optimizer {
    public let parameters: ParameterStore
    public let shard: Range<Int>
    public var stepCount: Int = 0

    /// The decay rates of the first and second moment estimates.
    public let betas: (Float, Float)
    /// Added to the denominator for numerical stability.
    public let epsilon: Float
    /// The L2 coefficient added to the gradient.
    public let weightDecay: Float
    /// Which parameters ``weightDecay`` applies to.
    public let weightDecayScope: WeightDecayScope

    /// First moment estimate ("exp_avg"), `shard.count` elements.
    public let firstMoment: Tensor
    /// Second moment estimate ("exp_avg_sq"), `shard.count` elements.
    public let secondMoment: Tensor
    private let segments: [DecaySegment]

    /// Creates the optimizer with zeroed moments.
    ///
    /// - Parameters:
    ///   - parameters: The store to update.
    ///   - shard: The flat range this optimizer owns; `nil` means all parameters.
    ///   - betas: Moment decay rates, each in `[0, 1)`.
    ///   - epsilon: The denominator's stabilizer.
    ///   - weightDecay: The L2 coefficient added to the gradient.
    ///   - weightDecayScope: Which parameters weight decay applies to.
    public init(
        parameters: ParameterStore,
        shard: Range<Int>? = nil,
        betas: (Float, Float) = (0.9, 0.999),
        epsilon: Float = 1e-8,
        weightDecay: Float = 0,
        weightDecayScope: WeightDecayScope = .decayingParameters
    ) {
        let shard = shard ?? 0..<parameters.count
        checkAdamArguments(shard: shard, store: parameters, betas: betas, epsilon: epsilon,
                           weightDecay: weightDecay, name: "Adam")
        self.parameters = parameters
        self.shard = shard
        self.betas = betas
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.weightDecayScope = weightDecayScope
        firstMoment = Tensor(zeros: [shard.count])
        secondMoment = Tensor(zeros: [shard.count])
        segments = decaySegments(of: parameters, shard: shard, scope: weightDecayScope)
    }

    /// `["exp_avg", "exp_avg_sq"]`.
    public var stateBuffers: [(name: String, tensor: Tensor)] {
        [("exp_avg", firstMoment), ("exp_avg_sq", secondMoment)]
    }

    public func step(learningRate: Float) {
        stepCount += 1
        adamUpdate(store: parameters, shard: shard, segments: segments,
                   m: firstMoment.pointer, v: secondMoment.pointer, step: stepCount,
                   learningRate: learningRate, betas: betas, epsilon: epsilon,
                   weightDecay: weightDecay, decoupled: false)
    }
}

/// Adam with decoupled weight decay (Loshchilov & Hutter, `torch.optim.AdamW`):
/// parameters shrink by `lr * weightDecay` directly, independent of the
/// gradient's scale, before the Adam update.
///
///     p = p - lr * weightDecay * p         (decaying parameters only)
///     m, v, p: as in ``Adam`` with the raw gradient
public final class AdamW: Optimizer {
    public let parameters: ParameterStore
    public let shard: Range<Int>
    public var stepCount: Int = 0

    /// The decay rates of the first and second moment estimates.
    public let betas: (Float, Float)
    /// Added to the denominator for numerical stability.
    public let epsilon: Float
    /// The decoupled decay coefficient (scaled by the learning rate).
    public let weightDecay: Float
    /// Which parameters ``weightDecay`` applies to.
    public let weightDecayScope: WeightDecayScope

    /// First moment estimate ("exp_avg"), `shard.count` elements.
    public let firstMoment: Tensor
    /// Second moment estimate ("exp_avg_sq"), `shard.count` elements.
    public let secondMoment: Tensor
    private let segments: [DecaySegment]

    /// Creates the optimizer with zeroed moments.
    ///
    /// - Parameters:
    ///   - parameters: The store to update.
    ///   - shard: The flat range this optimizer owns; `nil` means all parameters.
    ///   - betas: Moment decay rates, each in `[0, 1)`.
    ///   - epsilon: The denominator's stabilizer.
    ///   - weightDecay: The decoupled decay coefficient (PyTorch's default 0.01).
    ///   - weightDecayScope: Which parameters weight decay applies to.
    public init(
        parameters: ParameterStore,
        shard: Range<Int>? = nil,
        betas: (Float, Float) = (0.9, 0.999),
        epsilon: Float = 1e-8,
        weightDecay: Float = 0.01,
        weightDecayScope: WeightDecayScope = .decayingParameters
    ) {
        let shard = shard ?? 0..<parameters.count
        checkAdamArguments(shard: shard, store: parameters, betas: betas, epsilon: epsilon,
                           weightDecay: weightDecay, name: "AdamW")
        self.parameters = parameters
        self.shard = shard
        self.betas = betas
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.weightDecayScope = weightDecayScope
        firstMoment = Tensor(zeros: [shard.count])
        secondMoment = Tensor(zeros: [shard.count])
        segments = decaySegments(of: parameters, shard: shard, scope: weightDecayScope)
    }

    /// `["exp_avg", "exp_avg_sq"]`.
    public var stateBuffers: [(name: String, tensor: Tensor)] {
        [("exp_avg", firstMoment), ("exp_avg_sq", secondMoment)]
    }

    public func step(learningRate: Float) {
        stepCount += 1
        adamUpdate(store: parameters, shard: shard, segments: segments,
                   m: firstMoment.pointer, v: secondMoment.pointer, step: stepCount,
                   learningRate: learningRate, betas: betas, epsilon: epsilon,
                   weightDecay: weightDecay, decoupled: true)
    }
}

private func checkAdamArguments(shard: Range<Int>, store: ParameterStore, betas: (Float, Float),
                                epsilon: Float, weightDecay: Float, name: String) {
    checkShard(shard, in: store, optimizer: name)
    precondition(betas.0 >= 0 && betas.0 < 1 && betas.1 >= 0 && betas.1 < 1,
                 "\(name): betas \(betas) outside [0, 1)")
    precondition(epsilon >= 0, "\(name): negative epsilon \(epsilon)")
    precondition(weightDecay >= 0, "\(name): negative weight decay \(weightDecay)")
}

/// The shared Adam/AdamW update; `step` is the 1-based count after this step.
private func adamUpdate(
    store: ParameterStore, shard: Range<Int>, segments: [DecaySegment],
    m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, step: Int,
    learningRate lr: Float, betas: (Float, Float), epsilon: Float,
    weightDecay: Float, decoupled: Bool
) {
    let p = store.values.pointer + shard.lowerBound
    let g = store.gradients.pointer + shard.lowerBound
    let (beta1, beta2) = betas
    // Bias corrections in Double: beta2^t for large t loses digits in Float.
    let correction1 = 1 - pow(Double(beta1), Double(step))
    let correction2 = 1 - pow(Double(beta2), Double(step))
    let stepSize = Float(Double(lr) / correction1)
    let inverseRootCorrection2 = Float(1 / correction2.squareRoot())
    let oneMinusBeta1 = 1 - beta1
    let oneMinusBeta2 = 1 - beta2
    for segment in segments {
        let wd = segment.decays ? weightDecay : 0
        let shrink = decoupled ? 1 - lr * wd : 1
        let l2 = decoupled ? 0 : wd
        for i in segment.range {
            let gradient = g[i] + l2 * p[i]
            let mi = beta1 * m[i] + oneMinusBeta1 * gradient
            let vi = beta2 * v[i] + oneMinusBeta2 * gradient * gradient
            m[i] = mi
            v[i] = vi
            let denominator = vi.squareRoot() * inverseRootCorrection2 + epsilon
            p[i] = p[i] * shrink - stepSize * mi / denominator
        }
    }
}
