import TensorCore

/// One class and its probability.
public struct ClassScore: Equatable, Sendable, Codable {
    /// The class id.
    public let label: Int
    /// Its softmax probability.
    public let probability: Double

    public init(label: Int, probability: Double) {
        self.label = label
        self.probability = probability
    }
}

/// The `k` most probable classes of one row of logits, best first; ties go
/// to the lower class id, so the order is deterministic.
///
/// - Parameters:
///   - logits: `count` class scores.
///   - count: The number of classes.
///   - k: How many to return (clamped to `1...count`).
public func topClasses(logits: UnsafePointer<Float>, count: Int, k: Int) -> [ClassScore] {
    precondition(count > 0, "topClasses: no classes")
    var probabilities = [Float](repeating: 0, count: count)
    probabilities.withUnsafeMutableBufferPointer { Kernels.softmaxRow(logits, into: $0.baseAddress!, count: count) }
    let order = (0..<count).sorted { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
    return order.prefix(max(1, min(k, count))).map { ClassScore(label: $0, probability: Double(probabilities[$0])) }
}
