import TensorCore

/// Adam with L2 regularization (`torch.optim.Adam`): the weight decay term
/// is added to the gradient before the moment estimates, so adaptive scaling
/// weakens it for parameters with large gradients. Prefer ``AdamW``.
///
///     g = grad + weightDecay * p           (decaying parameters only)
///     m = beta1 * m + (1 - beta1) * g
///     v = beta2 * v + (1 - beta2) * g²
///     p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
public class Adam: Optimizer {
    fileprivate let core: AdamCore

    public var parameters: ParameterStore { core.parameters }
    public var shard: Range<Int> { core.shard }
    public var stepCount: Int {
        get { core.stepCount }
        set { core.stepCount = newValue }
    }

    /// The decay rates of the first and second moment estimates.
    public var betas: (Float, Float) { core.betas }
    /// Added to the denominator for numerical stability.
    public var epsilon: Float { core.epsilon }
    /// The weight decay coefficient: added to the gradient (Adam), or
    /// shrinking the parameters by `lr * weightDecay` (AdamW).
    public var weightDecay: Float { core.weightDecay }
    /// Which parameters ``weightDecay`` applies to.
    public var weightDecayScope: WeightDecayScope { core.weightDecayScope }

    /// First moment estimate ("exp_avg"), `shard.count` elements.
    public var firstMoment: Tensor { core.firstMoment }
    /// Second moment estimate ("exp_avg_sq"), `shard.count` elements.
    public var secondMoment: Tensor { core.secondMoment }

    /// Creates the optimizer with zeroed moments.
    ///
    /// - Parameters:
    ///   - parameters: The store to update.
    ///   - shard: The flat range this optimizer owns; `nil` means all parameters.
    ///   - betas: Moment decay rates, each in `[0, 1)`.
    ///   - epsilon: The denominator's stabilizer.
    ///   - weightDecay: The L2 coefficient added to the gradient.
    ///   - weightDecayScope: Which parameters weight decay applies to.
    public convenience init(
        parameters: ParameterStore,
        shard: Range<Int>? = nil,
        betas: (Float, Float) = (0.9, 0.999),
        epsilon: Float = 1e-8,
        weightDecay: Float = 0,
        weightDecayScope: WeightDecayScope = .decayingParameters
    ) {
        self.init(core: AdamCore(name: "Adam", decoupled: false, parameters: parameters, shard: shard, betas: betas,
                                 epsilon: epsilon, weightDecay: weightDecay, weightDecayScope: weightDecayScope))
    }

    fileprivate init(core: AdamCore) {
        self.core = core
    }

    /// `["exp_avg", "exp_avg_sq"]`.
    public var stateBuffers: [(name: String, tensor: Tensor)] { core.stateBuffers }

    public func step(learningRate: Float) { core.step(learningRate: learningRate) }
}

/// Adam with decoupled weight decay (Loshchilov & Hutter, `torch.optim.AdamW`):
/// parameters shrink by `lr * weightDecay` directly, independent of the
/// gradient's scale, before the Adam update.
///
///     p = p - lr * weightDecay * p         (decaying parameters only)
///     m, v, p: as in ``Adam`` with the raw gradient
///
/// Everything but the decay rule and its default is ``Adam``'s.
public final class AdamW: Adam {
    /// Creates the optimizer with zeroed moments.
    ///
    /// - Parameters:
    ///   - parameters: The store to update.
    ///   - shard: The flat range this optimizer owns; `nil` means all parameters.
    ///   - betas: Moment decay rates, each in `[0, 1)`.
    ///   - epsilon: The denominator's stabilizer.
    ///   - weightDecay: The decoupled decay coefficient (PyTorch's default 0.01).
    ///   - weightDecayScope: Which parameters weight decay applies to.
    public init(parameters: ParameterStore, shard: Range<Int>? = nil, betas: (Float, Float) = (0.9, 0.999), epsilon: Float = 1e-8,
                weightDecay: Float = 0.01, weightDecayScope: WeightDecayScope = .decayingParameters) {
        let core = AdamCore(name: "AdamW", decoupled: true, parameters: parameters, shard: shard, betas: betas,
                            epsilon: epsilon, weightDecay: weightDecay, weightDecayScope: weightDecayScope)
        super.init(core: core)
    }
}
