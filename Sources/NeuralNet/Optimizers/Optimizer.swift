import TensorCore

/// Updates the parameters of a ``ParameterStore`` from its gradients.
///
/// An optimizer owns a **shard**, a range of the flat parameter buffer
/// (by default all of it). Its state buffers hold the shard's elements only,
/// and ``step(learningRate:)`` reads and writes that range only. This is what
/// ZeRO stage 1 needs: each rank keeps the optimizer state of its own slice.
/// Every element's update depends only on its own value, gradient and state
/// plus shared scalars, so stepping disjoint shards gives exactly the bits
/// that one optimizer over the whole buffer gives.
public protocol Optimizer: AnyObject {
    /// The store whose values are updated.
    var parameters: ParameterStore { get }

    /// The range of the flat buffers this optimizer updates.
    var shard: Range<Int> { get }

    /// Steps taken so far; part of a checkpoint (Adam's bias correction and
    /// SGD's first momentum step depend on it).
    var stepCount: Int { get set }

    /// The state tensors, by a stable name, each with `shard.count` elements.
    ///
    /// They are the live buffers: a checkpoint loader restores state by
    /// copying into them.
    var stateBuffers: [(name: String, tensor: Tensor)] { get }

    /// Applies one update to `parameters.values[shard]` from
    /// `parameters.gradients[shard]`, then increments ``stepCount``.
    ///
    /// - Parameter learningRate: The rate for this step, usually from a
    ///   ``LearningRateSchedule``.
    func step(learningRate: Float)
}

/// Which parameters weight decay applies to.
public enum WeightDecayScope: String, Sendable, Equatable, CaseIterable {
    /// Only parameters whose ``ParameterInfo/decays`` is true (matrices);
    /// biases and normalization parameters are left alone.
    case decayingParameters
    /// Every parameter.
    case all
}

/// A run of shard-local elements that share one weight-decay decision.
struct DecaySegment {
    /// Element indices relative to the shard's start.
    var range: Range<Int>
    var decays: Bool
}

/// Splits `shard` into maximal runs of equal decay flag, computed once at
/// construction so that `step` neither allocates nor searches the layout.
func decaySegments(of store: ParameterStore, shard: Range<Int>, scope: WeightDecayScope) -> [DecaySegment] {
    if shard.isEmpty { return [] }
    if scope == .all { return [DecaySegment(range: 0..<shard.count, decays: true)] }
    var segments: [DecaySegment] = []
    for parameter in store.parameters {
        let overlap = parameter.range.clamped(to: shard)
        if overlap.isEmpty { continue }
        let local = (overlap.lowerBound - shard.lowerBound)..<(overlap.upperBound - shard.lowerBound)
        if let last = segments.last, last.decays == parameter.decays, last.range.upperBound == local.lowerBound {
            segments[segments.count - 1].range = last.range.lowerBound..<local.upperBound
        } else {
            segments.append(DecaySegment(range: local, decays: parameter.decays))
        }
    }
    return segments
}

/// Stops with a clear message unless `shard` lies inside `store`'s buffers.
func checkShard(_ shard: Range<Int>, in store: ParameterStore, optimizer: String) {
    precondition(shard.lowerBound >= 0 && shard.upperBound <= store.count,
                 "\(optimizer): shard \(shard) outside the parameter buffer 0..<\(store.count)")
}
