import Foundation
import TensorCore

/// Test-only faults, switched on by environment variables, so the fault tests
/// can make one rank misbehave at a chosen step of a real run. Not for users:
/// nothing here is needed to train, and unset variables cost one branch per step.
///
/// - `DDP_TEST_STALL_RANK=r DDP_TEST_STALL_STEP=s`: rank `r` sleeps forever at
///   the start of step `s` (1-based) and calls no collective again, so the
///   other ranks' watchdog must end the job.
/// - `DDP_TEST_KILL_RANK=r DDP_TEST_KILL_STEP=s`: rank `r` sends itself
///   SIGKILL at the start of step `s`, as if the node lost it.
///   `DDP_TEST_KILL_MARKER=path` makes the kill happen once: it fires only
///   while `path` does not exist, and creates it first, so a restarted job
///   that resumes before step `s` runs through.
/// - `DDP_TEST_SCRAMBLE_STEP=s`: every rank sets each of its targets in
///   step `s` to the largest target of its micro-batch (an ignored one stays
///   ignored), so most samples are scored against a wrong label, and a
///   language model's tokens against its rarest character: a loss spike at a
///   known step, as large as a corrupted batch makes it.
/// - `DDP_TEST_NAN_RANK=r DDP_TEST_NAN_STEP=s`: rank `r` writes a NaN into
///   its last gradient during the backward of step `s`, with a finite loss,
///   so only the check of the averaged gradients can catch it.
public struct FaultInjection: Sendable {
    private let stallStep: Int?
    private let killStep: Int?
    private let killMarker: String?
    private let nanStep: Int?
    private let scrambleStep: Int?

    /// Reads the variables for `rank` from `environment`.
    public init(rank: Int, environment: [String: String] = ProcessInfo.processInfo.environment) {
        func step(_ rankKey: String, _ stepKey: String) -> Int? {
            guard let target = environment[rankKey].flatMap({ Int($0) }), target == rank else { return nil }
            return environment[stepKey].flatMap { Int($0) }
        }
        stallStep = step("DDP_TEST_STALL_RANK", "DDP_TEST_STALL_STEP")
        killStep = step("DDP_TEST_KILL_RANK", "DDP_TEST_KILL_STEP")
        killMarker = environment["DDP_TEST_KILL_MARKER"]
        nanStep = step("DDP_TEST_NAN_RANK", "DDP_TEST_NAN_STEP")
        scrambleStep = environment["DDP_TEST_SCRAMBLE_STEP"].flatMap { Int($0) }
    }

    /// Whether any fault is set for this rank.
    public var isActive: Bool { stallStep != nil || killStep != nil || nanStep != nil || scrambleStep != nil }

    /// In the scrambled step, sets every target of `targets` (a micro-batch's) to their largest.
    public func scrambleTargets(_ step: Int, _ targets: Tensor) {
        guard step == scrambleStep, targets.count > 1 else { return }
        let t = targets.pointer
        let largest = (0..<targets.count).reduce(t[0]) { max($0, t[$1]) }
        for i in 0..<targets.count where t[i] >= 0 { t[i] = largest }
    }

    /// Called at the start of each step (1-based): misbehaves when asked to.
    public func beforeStep(_ step: Int) {
        if step == killStep {
            if let killMarker {
                guard !FileManager.default.fileExists(atPath: killMarker) else { return }
                FileManager.default.createFile(atPath: killMarker, contents: Data())
            }
            kill(getpid(), SIGKILL)
        }
        if step == stallStep {
            while true { sleep(3600) }
        }
    }

    /// The callback backward reports finished gradients to in step `step`:
    /// `ready` itself, or for the poisoned step one that writes the NaN just
    /// before the last gradient is reported (later, its reduction may be under way).
    public func gradientsReady(_ step: Int, gradients: UnsafeMutableBufferPointer<Float>,
                               forwardingTo ready: @escaping (Range<Int>) -> Void) -> (Range<Int>) -> Void {
        guard step == nanStep, let last = gradients.indices.last else { return ready }
        return { range in
            if range.contains(last) { gradients[last] = .nan }
            ready(range)
        }
    }
}
