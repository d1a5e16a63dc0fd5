import ArgumentParser
import Checkpoint
import Foundation
import Inference
import ONNXExport

/// `ddp export`: a checkpoint's model as a file other runtimes load.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a checkpoint's model as an ONNX file (opset \(ONNXModel.opsetVersion)).",
        discussion: """
            ddp export --checkpoint runs/mnist-mlp --format onnx --out mnist-mlp.onnx
            The graph holds the checkpoint's preprocessing: it takes raw values as
            `ddp predict` does. MLP, CNN: input [batch, ...sample] -> logits and
            probabilities. GPT: input_ids int64 [batch, sequence] -> logits.
            int8 weights are written dequantized, low-rank layers as two products.
            """
    )

    /// The file formats `--format` accepts.
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case onnx
    }

    @Option(name: .long, help: "A checkpoint directory, or a run directory (its newest valid checkpoint).")
    var checkpoint: String

    @Option(name: .long, help: "The file format.")
    var format: Format = .onnx

    @Option(name: .long, help: "The file to write (replaced if it exists).")
    var out: String

    @Option(name: .customLong("data-dir"), help: "Where the data sets are (only for checkpoints without recorded preprocessing).")
    var dataDirectory: String?

    func validate() throws {
        if out.isEmpty { throw ValidationError("--out must name a file") }
    }

    func run() throws {
        try exitOnUserError {
            try checkWritable(out)
            let session = try InferenceSession(path: checkpoint, dataDirectory: dataDirectory)
            let model = try ONNXExporter.model(for: session)
            let bytes = try ONNXExporter.write(model, to: out)
            print("exported \(session.config.run.model.kind) checkpoint \(session.directory.path) (step \(session.state.step)) "
                  + "to \(out): ONNX opset \(ONNXModel.opsetVersion), IR \(ONNXModel.irVersion), \(bytes) bytes")
            for input in model.graph.inputs { print("input:  \(input.summary)") }
            for output in model.graph.outputs { print("output: \(output.summary)") }
        }
    }

    /// Refuses an `--out` whose directory is missing or read-only before the
    /// checkpoint is loaded, so the mistake costs no export.
    private func checkWritable(_ path: String) throws {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw CheckpointError.io(path: path, operation: "create", errno: EISDIR)
        }
        guard access(directory, W_OK) == 0 else { throw CheckpointError.io(path: path, operation: "create", errno: errno) }
    }
}
