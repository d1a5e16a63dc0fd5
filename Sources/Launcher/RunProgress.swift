import Foundation
import RunLog

/// What a run directory says about how far a run got: its newest checkpoint
/// and its last logged metrics. `ddp launch` reads it between attempts and
/// for its summary; it trusts the files only for reporting (the trainer
/// verifies checkpoints before resuming).
public struct RunProgress: Sendable, Equatable {
    /// The step of the newest checkpoint directory that has its trainer state
    /// file, or `nil` when there is none.
    public var checkpointStep: Int?
    /// That checkpoint's directory.
    public var checkpointPath: String?
    /// The last `"kind": "train"` record of `metrics.jsonl` (by step).
    public var lastTrain: [String: MetricNumber] = [:]
    /// The last `"kind": "eval"` record of `metrics.jsonl` (by step).
    public var lastEvaluation: [String: MetricNumber] = [:]

    /// A number from a metrics record.
    public typealias MetricNumber = Double

    /// The highest step that metrics or a checkpoint show as done.
    public var stepsDone: Int {
        max(checkpointStep ?? 0, lastTrain["step"].map { Int($0) } ?? 0, lastEvaluation["step"].map { Int($0) } ?? 0)
    }

    /// Reads `directory`; missing or unreadable files leave fields empty.
    public init(runDirectory directory: URL) {
        let checkpoints = directory.appendingPathComponent("checkpoints")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: checkpoints.path)) ?? []
        for name in names {
            guard let step = Self.step(ofCheckpointName: name),
                  FileManager.default.fileExists(atPath: checkpoints.appendingPathComponent(name)
                      .appendingPathComponent("trainer.json").path),
                  step > (checkpointStep ?? -1)
            else { continue }
            checkpointStep = step
            checkpointPath = checkpoints.appendingPathComponent(name).path
        }
        guard let text = try? String(contentsOf: directory.appendingPathComponent(MetricsLog.fileName), encoding: .utf8)
        else { return }
        // The run may be writing its last line: take the lines that parse.
        for line in text.split(separator: "\n") {
            guard let record = MetricsFile.record(fromLine: String(line)) else { continue }
            var numbers = record.values
            numbers["step"] = Double(record.step)
            if record.kind == "train" && record.step >= Int(lastTrain["step"] ?? -1) { lastTrain = numbers }
            if record.kind == "eval" && record.step >= Int(lastEvaluation["step"] ?? -1) { lastEvaluation = numbers }
        }
    }

    /// The step in a checkpoint directory name `step-00001200`, or `nil`.
    public static func step(ofCheckpointName name: String) -> Int? {
        guard name.hasPrefix("step-") else { return nil }
        let digits = name.dropFirst(5)
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return Int(digits)
    }

    /// One line for the summary: steps, checkpoint, last loss and evaluation.
    public var summary: String {
        var parts = ["\(stepsDone) steps done"]
        if let checkpointStep { parts.append("newest checkpoint at step \(checkpointStep)") } else { parts.append("no checkpoint") }
        if let loss = lastTrain["loss"] {
            parts.append(String(format: "train loss %.4f at step %d", loss, Int(lastTrain["step"] ?? 0)))
        }
        if let loss = lastEvaluation["loss"] {
            var text = String(format: "eval loss %.4f", loss)
            if let accuracy = lastEvaluation["accuracy"] { text += String(format: ", accuracy %.2f%%", accuracy * 100) }
            if let perplexity = lastEvaluation["perplexity"] { text += String(format: ", perplexity %.3f", perplexity) }
            parts.append(text + " at step \(Int(lastEvaluation["step"] ?? 0))")
        }
        return parts.joined(separator: "; ")
    }
}
