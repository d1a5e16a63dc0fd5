/// What ``RunVerification`` found, the same on every rank.
public struct VerificationResult: Codable, Equatable, Sendable {
    /// The run's `checkpoints` folder.
    public let root: String
    /// The checkpoints found.
    public let checkpoints: Int
    /// Each checkpoint whose checksums (or record) do not hold, named, with why.
    public let damaged: [String]
    /// The replays taken, in step order; the last one differs when ``passed`` is false.
    public let replays: [ReplayResult]

    /// Whether every checkpoint is intact and every replay matched.
    public var passed: Bool { damaged.isEmpty && replays.allSatisfy { $0.matches == true } }

    /// The closing line, e.g. `ddp: verify: 4 checkpoints, 3 replays, all bit for bit`.
    public var summary: String {
        if !damaged.isEmpty {
            return "ddp: verify: \(damaged.count) of \(checkpoints) checkpoints in \(root) fail their checksums; nothing replayed"
        }
        if let failed = replays.last, failed.matches != true {
            return "ddp: verify: \(failed.stored ?? root) does not match its replay from \(failed.startName)"
                + " (\(replays.count - 1) of \(checkpoints - 1) replays matched before it)"
        }
        return "ddp: verify: \(checkpoints) checkpoints, \(replays.count) replays, all bit for bit"
    }
}
