import Foundation

/// What one replay (``RunReplay``) found, the same on every rank.
public struct ReplayResult: Codable, Equatable, Sendable, CustomStringConvertible {
    /// The checkpoint replayed from, e.g. `step-00000020`.
    public let startName: String
    /// The step replayed to.
    public let endStep: Int
    /// The run's own checkpoint of ``endStep`` the replay was compared with;
    /// `nil` when the run has none.
    public let stored: String?
    /// The tensors compared (0 without a stored checkpoint).
    public let tensors: Int
    /// The first difference; `nil` when the replay matches (or nothing was compared).
    public let difference: CheckpointDifference?
    /// The train loss of the replay's last logged window; `nil` when not finite.
    public let finalLoss: Double?
    /// The replayed checkpoint, when it was kept (a `--run-dir` was given).
    public let replayed: String?

    /// Whether the replay agrees with the stored checkpoint; `nil` when
    /// there was none to compare with.
    public var matches: Bool? { stored == nil ? nil : difference == nil }

    private var storedName: String {
        stored.map { URL(fileURLWithPath: $0).lastPathComponent } ?? ""
    }

    /// One line for a person, e.g. `ddp: replay from step-00000020 to step 40
    /// matches step-00000040 bit for bit (12 tensors)`.
    public var description: String {
        let head = "ddp: replay from \(startName) to step \(endStep)"
        if let difference { return "\(head) differs from \(storedName): \(difference)" }
        if stored != nil { return "\(head) matches \(storedName) bit for bit (\(tensors) tensors)" }
        let loss = finalLoss.map { String(format: "train loss %.6f", $0) } ?? "no finite train loss"
        let kept = replayed.map { "; its checkpoint is \($0)" } ?? ""
        return "\(head) ended with \(loss); the run has no checkpoint of step \(endStep) to compare with\(kept)"
    }
}
