import TensorCore

/// The sum of squares of `tensor`'s elements in `range`, accumulated in Double.
///
/// Under ZeRO each rank sums its own shard; an allreduce of these sums gives
/// the square of the global norm.
///
/// - Parameters:
///   - tensor: Usually a store's flat gradient buffer.
///   - range: Flat element indices; `nil` means the whole tensor.
public func sumOfSquares(_ tensor: Tensor, range: Range<Int>? = nil) -> Double {
    let range = range ?? 0..<tensor.count
    precondition(range.lowerBound >= 0 && range.upperBound <= tensor.count,
                 "sumOfSquares: range \(range) outside 0..<\(tensor.count)")
    return Kernels.squaredNorm(tensor.pointer + range.lowerBound, count: range.count)
}

/// The L2 norm of `tensor`'s elements in `range`, accumulated in Double.
///
/// - Parameters:
///   - tensor: Usually a store's flat gradient buffer.
///   - range: Flat element indices; `nil` means the whole tensor.
public func globalNorm(of tensor: Tensor, range: Range<Int>? = nil) -> Float {
    Float(sumOfSquares(tensor, range: range).squareRoot())
}

/// The factor that brings a gradient of norm `norm` down to `maxNorm`, or
/// `nil` when no clipping is needed (norm at most `maxNorm`, or not finite).
///
/// As in PyTorch, the factor is `maxNorm / (norm + 1e-6)`, the small term
/// guarding a division by a vanishing norm.
public func clipCoefficient(norm: Float, maxNorm: Float) -> Float? {
    precondition(maxNorm > 0, "clipCoefficient: maxNorm must be positive, got \(maxNorm)")
    guard norm.isFinite, norm > maxNorm else { return nil }
    return maxNorm / (norm + 1e-6)
}

/// Multiplies `store.gradients[range]` by `factor` in place.
///
/// - Parameters:
///   - store: The store whose gradients are scaled.
///   - factor: The multiplier.
///   - range: Flat element indices; `nil` means all gradients.
public func scaleGradients(_ store: ParameterStore, by factor: Float, range: Range<Int>? = nil) {
    let range = range ?? 0..<store.count
    precondition(range.lowerBound >= 0 && range.upperBound <= store.count,
                 "scaleGradients: range \(range) outside 0..<\(store.count)")
    let g = store.gradients.pointer
    for i in range { g[i] *= factor }
}

/// Clips all gradients of `store` to global L2 norm `maxNorm`.
///
/// Call it after gradients are complete (averaged across ranks). Gradients
/// are scaled in place only when their norm exceeds `maxNorm`; a non-finite
/// norm is returned without scaling so the caller can skip the step.
///
/// - Parameters:
///   - store: The store whose gradients are clipped.
///   - maxNorm: The largest allowed norm; positive.
/// - Returns: The norm before clipping.
@discardableResult
public func clipGradients(_ store: ParameterStore, maxNorm: Float) -> Float {
    let norm = globalNorm(of: store.gradients)
    if let factor = clipCoefficient(norm: norm, maxNorm: maxNorm) {
        scaleGradients(store, by: factor)
    }
    return norm
}

/// Clips `store.gradients[range]` given a global norm computed elsewhere,
/// e.g. the square root of an allreduced ``sumOfSquares(_:range:)`` under ZeRO.
///
/// - Parameters:
///   - store: The store whose gradients are clipped.
///   - maxNorm: The largest allowed norm; positive.
///   - norm: The global norm of all gradients, over every rank's shard.
///   - range: The range this rank scales; `nil` means all gradients.
/// - Returns: Whether the gradients were scaled.
@discardableResult
public func clipGradients(_ store: ParameterStore, maxNorm: Float, norm: Float, range: Range<Int>? = nil) -> Bool {
    guard let factor = clipCoefficient(norm: norm, maxNorm: maxNorm) else { return false }
    scaleGradients(store, by: factor, range: range)
    return true
}
