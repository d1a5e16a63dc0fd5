import ArgumentParser
import Checkpoint
import DataPipeline
import Foundation
import Inference
import Training

/// `ddp inspect`: what a checkpoint holds and whether it is intact.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a checkpoint's tensors, its trainer state, and whether its checksums hold.",
        discussion: """
            PATH is a checkpoint directory, a run directory (its newest checkpoint, valid or not),
            or a .safetensors file. Exits 1 when a checksum does not hold.
            """
    )

    @Argument(help: "A checkpoint directory, a run directory, or a .safetensors file.")
    var path: String

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        var intact = true
        try exitOnUserError {
            let report = try CheckpointReport.inspect(path)
            intact = report.files.allSatisfy(\.ok) && report.stateProblem == nil
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
                var object = try JSONSerialization.jsonObject(with: encoder.encode(report)) as! [String: Any]
                object["checksums_hold"] = report.checksumsHold
                if var state = object["state"] as? [String: Any] {
                    state["config"] = nil  // shown as YAML text below in the text form; JSON keeps it short
                    object["state"] = state
                    object["config"] = report.state?.config
                }
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            print(text(report))
        }
        if !intact { throw ExitCode(JobExitCode.failure) }
    }

    private func text(_ report: CheckpointReport) -> String {
        var lines = ["checkpoint: \(report.path)"]
        let total = report.tensors.reduce(0) { $0 + $1.bytes }
        let nameWidth = max(6, report.tensors.map(\.name.count).max() ?? 0)
        func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(0, n - s.count)) }
        lines.append("")
        lines.append("tensors (\(report.tensors.count), \(total) bytes):")
        lines.append("  " + pad("name", nameWidth) + "  " + pad("dtype", 5) + "  " + pad("shape", 16) + "  bytes")
        for t in report.tensors {
            lines.append("  " + pad(t.name, nameWidth) + "  " + pad(t.dtype, 5) + "  "
                         + pad("[" + t.shape.map(String.init).joined(separator: ", ") + "]", 16) + "  \(t.bytes)")
        }
        if !report.metadata.isEmpty {
            lines.append("metadata: " + report.metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
        }
        if let count = report.optimizerTensors { lines.append("optimizer.safetensors: \(count) tensors") }
        lines.append("")
        if report.state == nil && report.stateProblem == nil {
            let layout = report.files.first
            lines.append("(a lone safetensors file: no trainer state or checksums to check; its layout: "
                         + (layout.map { $0.ok ? "complete, \($0.recordedBytes) bytes" : $0.status } ?? "unchecked") + ")")
            return lines.joined(separator: "\n")
        }
        if let state = report.state {
            lines.append("trainer state:")
            lines.append("  step \(state.step), sampler at epoch \(state.samplerPosition.epoch) batch \(state.samplerPosition.batch), "
                         + "\(state.stepsPerEpoch) steps per epoch")
            lines.append("  \(state.worldSize) rank(s), global batch \(state.globalBatch), accumulation \(state.accumulation), "
                         + "\(state.trainSamples) training samples")
            lines.append("  \(state.parameterCount) parameters; optimizer \(state.optimizer.kind) at step \(state.optimizer.stepCount)"
                         + (state.optimizer.stateNames.isEmpty ? "" : " (state: \(state.optimizer.stateNames.joined(separator: ", ")))")
                         + (state.optimizer.shards == nil ? "" : ", written from ZeRO-1 shards"))
            lines.append("  config digest \(state.configDigest)"
                         + (state.vocabulary.map { ", vocabulary of \($0.unicodeScalars.count) characters" } ?? ""))
            if let steps = state.inputPreprocessing {
                lines.append("  input preprocessing: " + (steps.isEmpty ? "none" : steps.map(describe).joined(separator: ", ")))
            }
            lines.append("  config:")
            lines += state.config.split(separator: "\n").map { "    " + $0 }
        } else {
            lines.append("trainer state: unreadable: \(report.stateProblem ?? "none")")
        }
        lines.append("")
        lines.append("files:")
        for file in report.files {
            lines.append("  " + pad(file.name, 34) + pad("\(file.recordedBytes) bytes", 16) + file.status)
        }
        lines.append(report.checksumsHold ? "checksums: hold" : "checksums: DO NOT HOLD")
        return lines.joined(separator: "\n")
    }

    private func describe(_ step: PreprocessingStep) -> String {
        switch step {
        case .scale(let factor): return "scale \(factor)"
        case let .standardize(mean, std):
            return mean.count == 1 ? "standardize (mean \(mean[0]), std \(std[0]))" : "standardize (\(mean.count) features)"
        case .flatten: return "flatten"
        case .reshape(let shape): return "reshape \(shape)"
        case .oneHot: return "one-hot targets"
        }
    }
}
