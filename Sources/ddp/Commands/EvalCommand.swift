import ArgumentParser
import DataPipeline
import Foundation
import Inference
import MPI
import RunConfig
import Training

/// `ddp eval`: a checkpoint's loss and accuracy on a split.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a checkpoint: loss, accuracy, confusion matrix (classifiers) or perplexity (language models).",
        discussion: """
            Loads the data set the checkpoint was trained on (its recorded config) and evaluates the
            whole split. Under mpirun every rank takes a disjoint shard and the sums are combined:
              mpirun -np 2 ddp eval --checkpoint runs/mnist-mlp
            """
    )

    @Option(name: .long, help: "A checkpoint directory, or a run directory (its newest valid checkpoint).")
    var checkpoint: String

    @Option(name: .long, help: "train, validation or test (the held-out split's name; default: the held-out split).")
    var split: String?

    @Option(name: .customLong("batch-size"), help: "Global evaluation batch; default training.eval_batch_size.")
    var batchSize: Int?

    @Option(name: .customLong("data-dir"), help: "Where the data sets are, if not the checkpoint's data.dir.")
    var dataDirectory: String?

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        if let split, !["train", "validation", "test"].contains(split) {
            throw ValidationError("--split must be train, validation or test, not \(split)")
        }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
    }

    func run() throws {
        let world = try startWorld()
        var result: CheckpointEvaluation?
        var loaded: InferenceSession?
        try runOnAllRanks(world) {
            let opened = try InferenceSession(path: checkpoint, dataDirectory: dataDirectory)
            let data = try RunComponents.loadData(opened.dataConfig)
            let dataset: Dataset
            let name: String
            switch split ?? data.validationName {
            case "train":
                (dataset, name) = (data.train, "train")
            case data.validationName:
                (dataset, name) = (data.validation, data.validationName)
            default:
                throw InferenceError.invalidInput(
                    source: "--split", reason: "\(opened.config.run.data.dataset) has no \(split!) split; "
                        + "its held-out split is \(data.validationName)")
            }
            loaded = opened
            result = try evaluateCheckpoint(opened, on: dataset, split: name, rank: world.rank, ranks: world.size,
                                            batchSize: batchSize ?? opened.config.run.training.evalBatchSize,
                                            sumOverRanks: { try world.allSum(&$0) })
        }
        guard world.rank == 0, let result, let loaded else { return }
        for skipped in loaded.skipped {
            FileHandle.standardError.write(Data("ddp: warning: skipping invalid checkpoint: \(skipped)\n".utf8))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            var object = try JSONSerialization.jsonObject(with: encoder.encode(result)) as! [String: Any]
            object["checkpoint"] = loaded.directory.path
            object["step"] = loaded.state.step
            object["ranks"] = world.size
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("checkpoint: \(loaded.directory.path) (step \(loaded.state.step))")
        print("split:      \(result.split), \(result.samples) samples on \(world.size) rank(s)")
        print("loss:       \(String(format: "%.6f", result.loss))")
        print("accuracy:   \(String(format: "%.4f", result.accuracy))"
              + (loaded.languageModel != nil ? " (next-token, over \(result.count) tokens)" : ""))
        if let perplexity = result.perplexity { print("perplexity: \(String(format: "%.4f", perplexity))") }
        if let confusion = result.confusion { print(confusionTable(confusion)) }
    }

    /// Rows are true classes, columns predicted ones, then each class's recall.
    private func confusionTable(_ matrix: [[Int]]) -> String {
        let width = max(5, String(matrix.flatMap { $0 }.max() ?? 0).count + 1)
        func cell(_ text: String) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }
        var lines = ["confusion (rows: true class, columns: predicted):"]
        lines.append(cell("") + matrix.indices.map { cell("\($0)") }.joined() + "  recall")
        for (truth, row) in matrix.enumerated() {
            let total = row.reduce(0, +)
            let recall = total > 0 ? String(format: "%.3f", Double(row[truth]) / Double(total)) : "-"
            lines.append(cell("\(truth)") + row.map { cell("\($0)") }.joined() + "  " + recall)
        }
        return lines.joined(separator: "\n")
    }
}
