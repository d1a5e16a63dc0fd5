import Foundation
import TensorCore

/// The state and update shared by ``Adam`` and ``AdamW``, which differ only
/// in where weight decay enters (`decoupled`) and their default coefficient.
final class AdamCore {
    let parameters: ParameterStore
    let shard: Range<Int>
    var stepCount: Int = 0
    let betas: (Float, Float)
    let epsilon: Float
    let weightDecay: Float
    let weightDecayScope: WeightDecayScope
    /// Whether decay shrinks the parameters (AdamW) instead of adding to the gradient (Adam).
    let decoupled: Bool
    let firstMoment: Tensor
    let secondMoment: Tensor
    private let segments: [DecaySegment]

    /// Checks the arguments (stopping with messages naming `name`) and zeroes the moments.
    init(name: String, decoupled: Bool, parameters: ParameterStore, shard: Range<Int>?, betas: (Float, Float),
         epsilon: Float, weightDecay: Float, weightDecayScope: WeightDecayScope) {
        let shard = shard ?? 0..<parameters.count
        checkShard(shard, in: parameters, optimizer: name)
        precondition(betas.0 >= 0 && betas.0 < 1 && betas.1 >= 0 && betas.1 < 1,
                     "\(name): betas \(betas) outside [0, 1)")
        precondition(epsilon >= 0, "\(name): negative epsilon \(epsilon)")
        precondition(weightDecay >= 0, "\(name): negative weight decay \(weightDecay)")
        (self.parameters, self.shard, self.betas, self.epsilon) = (parameters, shard, betas, epsilon)
        (self.weightDecay, self.weightDecayScope, self.decoupled) = (weightDecay, weightDecayScope, decoupled)
        firstMoment = Tensor(zeros: [shard.count])
        secondMoment = Tensor(zeros: [shard.count])
        segments = decaySegments(of: parameters, shard: shard, scope: weightDecayScope)
    }

    var stateBuffers: [(name: String, tensor: Tensor)] {
        [("exp_avg", firstMoment), ("exp_avg_sq", secondMoment)]
    }

    func step(learningRate: Float) {
        stepCount += 1
        adamUpdate(store: parameters, shard: shard, segments: segments,
                   m: firstMoment.pointer, v: secondMoment.pointer, step: stepCount,
                   learningRate: learningRate, betas: betas, epsilon: epsilon,
                   weightDecay: weightDecay, decoupled: decoupled)
    }
}

/// The Adam/AdamW update; `step` is the 1-based count after this step.
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
        // Written on SIMD vectors because the element loop compiled to scalar
        // code (movss/mulss/sqrtss); each lane computes exactly what the
        // scalar tail computes, in the same order, so the bits do not change.
        var i = segment.range.lowerBound
        while i + FloatLanes.scalarCount <= segment.range.upperBound {
            let pi = loadLanes(p, i)
            let gradient = loadLanes(g, i) + l2 * pi
            let mi = beta1 * loadLanes(m, i) + oneMinusBeta1 * gradient
            let vi = beta2 * loadLanes(v, i) + oneMinusBeta2 * gradient * gradient
            storeLanes(mi, m, i)
            storeLanes(vi, v, i)
            let denominator = vi.squareRoot() * inverseRootCorrection2 + epsilon
            storeLanes(pi * shrink - stepSize * mi / denominator, p, i)
            i += FloatLanes.scalarCount
        }
        while i < segment.range.upperBound {
            let gradient = g[i] + l2 * p[i]
            let mi = beta1 * m[i] + oneMinusBeta1 * gradient
            let vi = beta2 * v[i] + oneMinusBeta2 * gradient * gradient
            m[i] = mi
            v[i] = vi
            let denominator = vi.squareRoot() * inverseRootCorrection2 + epsilon
            p[i] = p[i] * shrink - stepSize * mi / denominator
            i += 1
        }
    }
}
