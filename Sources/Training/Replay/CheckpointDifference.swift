/// The first thing in which a replayed checkpoint differs from the stored one
/// (``CheckpointComparison``), e.g. `model.safetensors tensor fc1.weight,
/// first at element 1234 (0.01234 replayed, 0.01235 stored)`.
public struct CheckpointDifference: Codable, Equatable, Sendable, CustomStringConvertible {
    /// The file: `model.safetensors`, `optimizer.safetensors` or `trainer.json`.
    public let file: String
    /// What in it: `tensor fc1.weight`, `step`, `sampler position`, ...
    public let item: String
    /// How: the first differing element and both values, or both values.
    public let detail: String

    public init(file: String, item: String, detail: String) {
        (self.file, self.item, self.detail) = (file, item, detail)
    }

    public var description: String { "\(file) \(item), \(detail)" }
}
