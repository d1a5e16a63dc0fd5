import Foundation

/// The learning rate as a pure function of the optimizer step, so a run
/// resumed from a checkpoint at step `s` continues with exactly the rates it
/// would have used.
///
/// Steps count from 0: `learningRate(at: 0)` is the rate of the first update.
public enum LearningRateSchedule: Sendable, Equatable {
    /// The same rate at every step.
    case constant(Float)

    /// `base * gamma^(step / every)` (integer division), as PyTorch's `StepLR`.
    case stepDecay(base: Float, every: Int, gamma: Float)

    /// A linear warmup to `base` over `warmupSteps`, then a half cosine down to
    /// `minimum` at `totalSteps`, and `minimum` afterwards.
    ///
    /// Warmup step `s` uses `base * (s + 1) / warmupSteps`, so the first
    /// update is not wasted at rate zero and step `warmupSteps - 1` reaches `base`.
    case cosine(base: Float, warmupSteps: Int, totalSteps: Int, minimum: Float)

    /// The rate for the update at `step` (0-based).
    ///
    /// - Parameter step: Optimizer steps already taken; must not be negative.
    public func learningRate(at step: Int) -> Float {
        precondition(step >= 0, "LearningRateSchedule: negative step \(step)")
        switch self {
        case .constant(let rate):
            return rate

        case let .stepDecay(base, every, gamma):
            precondition(every > 0, "LearningRateSchedule.stepDecay: 'every' must be positive, got \(every)")
            return Float(Double(base) * pow(Double(gamma), Double(step / every)))

        case let .cosine(base, warmupSteps, totalSteps, minimum):
            precondition(warmupSteps >= 0 && totalSteps >= warmupSteps,
                         "LearningRateSchedule.cosine: need 0 <= warmupSteps (\(warmupSteps)) <= totalSteps (\(totalSteps))")
            if step < warmupSteps {
                return Float(Double(base) * Double(step + 1) / Double(warmupSteps))
            }
            if step >= totalSteps { return minimum }
            let progress = Double(step - warmupSteps) / Double(totalSteps - warmupSteps)
            let coefficient = 0.5 * (1 + cos(Double.pi * progress))
            return Float(Double(minimum) + coefficient * (Double(base) - Double(minimum)))
        }
    }
}
