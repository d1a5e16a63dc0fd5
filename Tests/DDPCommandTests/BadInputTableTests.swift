import DDPTestSupport
import Foundation
import MPIRunSupport
import XCTest

/// Every way a user, a file or a client can hand `ddp` something wrong,
/// as a table: each case asserts the documented exit code (or HTTP status)
/// and that the first line of the message names the file, key or field at
/// fault. None may crash, hang or print a trace.
///
/// Set `DDP_BAD_INPUT_TABLE=path` to also write the table, with each
/// case's exit and first message line, as Markdown.
final class BadInputTableTests: InferenceTestCase {
    override class var scratchPrefix: String { "ddp-bad-input" }

    /// One command-line case: `ddp ARGUMENTS` must exit `exit` with `message` in its error output.
    private struct Case {
        let name: String
        let arguments: [String]
        let exit: Int32
        let message: String
    }

    private var rows: [(name: String, outcome: String, line: String)] = []

    func testEveryBadInputGetsItsExitCodeAndAMessageNamingTheCulprit() throws {
        let s = scratch.path
        func file(_ name: String, _ text: String) throws -> String {
            let url = scratch.appendingPathComponent(name)
            try text.write(to: url, atomically: true, encoding: .utf8)
            return url.path
        }
        let good = try file("good.yaml", Self.smallMLP(steps: 4))
        let mlp = "model:\n  kind: mlp\n  hidden: [8]\ndata:\n  dataset: synthetic_classes\n  samples: 64\n  features: 4\n  classes: 2\n"
            + "training:\n  batch_size: 8\n  steps: 2\n  epochs: 0\n"
        let table = try file("t.csv", "1,2,0\n3,4,1\n5,6,0\n7,8,1\n")
        func csvConfig(_ csv: String, label: Int = -1) -> String {
            "model:\n  kind: mlp\n  hidden: [4]\ndata:\n  dataset: csv\n  path: \(csv)\n  label_column: \(label)\n"
                + "training:\n  batch_size: 2\n  steps: 1\n  epochs: 0\n"
        }
        let run = try trainRun(Self.classifierConfig.replacingOccurrences(of: "steps: 40", with: "steps: 4"), name: "served")
        let checkpoint = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: run.path + "/checkpoints")
            .filter { $0.hasPrefix("step-") }.sorted().last.map { run.path + "/checkpoints/" + $0 })
        // A damaged copy of that checkpoint: its model file cut short.
        let damaged = s + "/damaged"
        try FileManager.default.copyItem(atPath: checkpoint, toPath: damaged)
        let model = try FileHandle(forWritingTo: URL(fileURLWithPath: damaged + "/model.safetensors"))
        try model.truncate(atOffset: 100)
        try model.close()
        let notSafetensors = try file("junk.safetensors", "this is not a safetensors file")
        let emptyImage = try file("empty.pgm", "")
        let smallImage = try file("small.pgm", "P2\n2 2\n255\n0 1 2 3\n")
        let textFile = try file("notes.txt", "hello")
        let train = { (config: String, extra: [String]) in ["train", "--config", config, "--run-dir", s + "/run"] + extra }

        let cases: [Case] = [
            // Config files.
            Case(name: "config file missing", arguments: train(s + "/none.yaml", []), exit: 2, message: "none.yaml"),
            Case(name: "config not YAML", arguments: train(try file("bad.yaml", "model: [unclosed\n"), []), exit: 2,
                 message: "bad.yaml:"),
            Case(name: "config not a mapping", arguments: train(try file("list.yaml", "- 1\n- 2\n"), []), exit: 2,
                 message: "list.yaml"),
            Case(name: "config not UTF-8", arguments: train(try writeBytes("latin.yaml", [0x6d, 0x3a, 0xff, 0xfe]), []),
                 exit: 2, message: "latin.yaml"),
            Case(name: "unknown key", arguments: train(try file("typo.yaml", mlp + "  batch_sise: 3\n"), []), exit: 2,
                 message: "training.batch_sise: unknown key"),
            Case(name: "wrong type", arguments: train(try file("type.yaml", mlp.replacingOccurrences(of: "steps: 2", with: "steps: many")), []),
                 exit: 2, message: "training.steps"),
            Case(name: "value out of range", arguments: train(try file("range.yaml", mlp + "optimizer:\n  lr: -1\n"), []), exit: 2,
                 message: "optimizer.lr"),
            Case(name: "choice not offered", arguments: train(try file("kind.yaml", mlp + "optimizer:\n  kind: lbfgs\n"), []),
                 exit: 2, message: "optimizer.kind"),
            Case(name: "key of another model", arguments: train(try file("other.yaml", mlp.replacingOccurrences(of: "  hidden: [8]\n", with: "  layers: 3\n")), []),
                 exit: 2, message: "model.layers"),
            Case(name: "run that never ends", arguments: train(try file("never.yaml", mlp.replacingOccurrences(of: "steps: 2", with: "steps: 0")), []),
                 exit: 2, message: "training.steps"),
            Case(name: "GPT width not divisible by heads",
                 arguments: train(try file("heads.yaml", "model:\n  kind: gpt\n  width: 30\n  heads: 4\ndata:\n  dataset: synthetic_text\n"), []),
                 exit: 2, message: "model."),
            // --set overrides.
            Case(name: "--set without =", arguments: train(good, ["--set", "training.epochs"]), exit: 2, message: "training.epochs"),
            Case(name: "--set unknown key", arguments: train(good, ["--set", "training.epoch=3"]), exit: 2, message: "training.epoch"),
            Case(name: "--set bad value", arguments: train(good, ["--set", "training.batch_size=abc"]), exit: 2,
                 message: "training.batch_size"),
            Case(name: "--set scalar for a list", arguments: train(good, ["--set", "model.hidden=5"]), exit: 2, message: "model.hidden"),
            Case(name: "batch beyond memory", arguments: train(good, ["--set", "training.batch_size=1073741824", "--set", "training.drop_last=false"]),
                 exit: 2, message: "training.batch_size: the run needs about"),
            Case(name: "model beyond memory", arguments: train(good, ["--set", "model.hidden=[65536, 65536]"]), exit: 2,
                 message: "model.hidden: the run needs about"),
            Case(name: "batch larger than the data", arguments: train(good, ["--set", "training.batch_size=4096"]), exit: 2,
                 message: "training.batch_size"),
            // Data files.
            Case(name: "data set not fetched", arguments: train(try file("mnist.yaml", "model:\n  kind: mlp\ndata:\n  dataset: mnist\n  dir: \(s)/nodata\n"), []),
                 exit: 2, message: "fetch-data.sh"),
            Case(name: "CSV file missing", arguments: train(try file("c1.yaml", csvConfig(s + "/none.csv")), []), exit: 2, message: "none.csv"),
            Case(name: "CSV ragged row", arguments: train(try file("c2.yaml", csvConfig(try file("ragged.csv", "1,2,0\n3,1\n5,6,0\n"))), []),
                 exit: 2, message: "ragged.csv:2"),
            Case(name: "CSV non-numeric field", arguments: train(try file("c3.yaml", csvConfig(try file("word.csv", "1,2,0\n3,x,1\n5,6,0\n"))), []),
                 exit: 2, message: "word.csv:2"),
            Case(name: "CSV empty", arguments: train(try file("c4.yaml", csvConfig(try file("empty.csv", ""))), []), exit: 2,
                 message: "empty.csv"),
            Case(name: "CSV label column outside", arguments: train(try file("c5.yaml", csvConfig(table, label: 3)), []), exit: 2,
                 message: "label column 3"),
            Case(name: "CSV absurd header", arguments: train(try file("c6.yaml", csvConfig(try file("huge.csv", "3,5555555555555555,a,b\n1,0\n2,1\n3,1\n"))), []),
                 exit: 2, message: "huge.csv"),
            // Checkpoints.
            Case(name: "eval of nothing", arguments: ["eval", "--checkpoint", s + "/nowhere"], exit: 2, message: "nowhere: not a checkpoint"),
            Case(name: "eval of a file", arguments: ["eval", "--checkpoint", textFile], exit: 2, message: "notes.txt"),
            Case(name: "eval of a truncated model", arguments: ["eval", "--checkpoint", damaged], exit: 2, message: "model.safetensors"),
            Case(name: "eval of an unknown split", arguments: ["eval", "--checkpoint", run.path, "--split", "dev"], exit: 2,
                 message: "--split"),
            Case(name: "inspect of a non-safetensors file", arguments: ["inspect", notSafetensors], exit: 2, message: "junk.safetensors"),
            Case(name: "replay of nothing", arguments: ["replay", "--checkpoint", s + "/nowhere", "--to-step", "8"], exit: 2,
                 message: "nowhere: not a checkpoint"),
            Case(name: "replay of a truncated model", arguments: ["replay", "--checkpoint", damaged, "--to-step", "8"], exit: 2,
                 message: "model.safetensors"),
            Case(name: "replay to step 0", arguments: ["replay", "--checkpoint", checkpoint, "--to-step", "0"], exit: 2,
                 message: "--to-step"),
            Case(name: "replay backwards", arguments: ["replay", "--checkpoint", checkpoint, "--to-step", "2"], exit: 2,
                 message: "--to-step 2 must be later"),
            Case(name: "verify of a file", arguments: ["verify", textFile], exit: 2, message: "notes.txt: not a run directory"),
            Case(name: "verify of a run with one checkpoint", arguments: ["verify", run.path], exit: 2,
                 message: "holds 1 checkpoint(s)"),
            Case(name: "resume with a changed model", arguments: ["train", "--config", try file("changed.yaml", Self.classifierConfig.replacingOccurrences(of: "hidden: [32]", with: "hidden: [16]")),
                                                                    "--run-dir", run.path, "--resume", checkpoint], exit: 2, message: "model.hidden"),
            // The command line.
            Case(name: "unknown subcommand", arguments: ["fly"], exit: 2, message: "fly"),
            Case(name: "unknown option", arguments: ["train", "--config", good, "--speed", "9"], exit: 2, message: "--speed"),
            Case(name: "missing option", arguments: ["train"], exit: 2, message: "--config"),
            Case(name: "launch with no ranks", arguments: ["launch", "-n", "0", "--config", good], exit: 2, message: "-n"),
            Case(name: "launch with 100000 ranks", arguments: ["launch", "-n", "100000", "--config", good], exit: 2, message: "-n 100000"),
            Case(name: "serve on port 70000", arguments: ["serve", "--checkpoint", run.path, "--port", "70000"], exit: 2, message: "--port"),
            Case(name: "serve with no connections", arguments: ["serve", "--checkpoint", run.path, "--max-connections", "0"], exit: 2,
                 message: "--max-connections"),
            // Prediction inputs.
            Case(name: "predict image missing", arguments: ["predict", "--checkpoint", run.path, "--input", s + "/none.png"], exit: 2,
                 message: "none.png"),
            Case(name: "predict image empty", arguments: ["predict", "--checkpoint", run.path, "--input", emptyImage], exit: 2,
                 message: "empty.pgm"),
            Case(name: "predict an image with a feature model", arguments: ["predict", "--checkpoint", run.path, "--input", smallImage],
                 exit: 2, message: "not images"),
            Case(name: "predict text file", arguments: ["predict", "--checkpoint", run.path, "--input", textFile], exit: 2,
                 message: "notes.txt"),
            Case(name: "predict a prompt with a classifier", arguments: ["predict", "--checkpoint", run.path, "--prompt", "hi"], exit: 2,
                 message: "cannot generate text"),
            // Export.
            Case(name: "export to an unknown format", arguments: ["export", "--checkpoint", run.path, "--format", "tflite", "--out", s + "/m.onnx"],
                 exit: 2, message: "tflite"),
            Case(name: "export of nothing", arguments: ["export", "--checkpoint", s + "/nowhere", "--out", s + "/m.onnx"], exit: 2,
                 message: "nowhere: not a checkpoint"),
            Case(name: "export into a missing directory", arguments: ["export", "--checkpoint", run.path, "--out", s + "/no/dir/m.onnx"],
                 exit: 2, message: "no/dir/m.onnx"),
        ]
        let ddp = try MPIRun.executableURL(named: "ddp")
        for item in cases {
            let result = try MPIRun.runProcess(executable: ddp, arguments: item.arguments, timeout: 60)
            let output = result.stderr + result.stdout
            let first = result.stderr.split(separator: "\n").first { !$0.hasPrefix("ddp: warning") }.map(String.init) ?? ""
            rows.append((item.name, "exit \(result.exitCode)", first))
            XCTAssertEqual(result.exitCode, item.exit, "\(item.name): \(result)")
            XCTAssertTrue(output.contains(item.message), "\(item.name): the message does not name \(item.message):\n\(output)")
            XCTAssertFalse(output.contains("Fatal error") || output.contains("Backtrac"), "\(item.name): crashed\n\(output)")
        }
        try checkRequests(checkpoint: run.path)
        try writeTable()
    }

    /// The HTTP side: bad requests get a 4xx status and a JSON error naming the field.
    private func checkRequests(checkpoint: String) throws {
        let server = try ServeProcess(arguments: ["--checkpoint", checkpoint, "--max-body-bytes", "2048"])
        defer { _ = server.stop() }
        let twelve = Array(repeating: "0", count: 12).joined(separator: ",")
        let requests: [(String, String, String, String?, Int, String)] = [
            ("request not JSON", "POST", "/v1/predict", "{oops", 400, "not valid JSON"),
            ("request not an object", "POST", "/v1/predict", "[1]", 400, "must be a JSON object"),
            ("request with an unknown field", "POST", "/v1/predict", "{\"input\": [[1]]}", 400, "input"),
            ("request sample of the wrong size", "POST", "/v1/predict", "{\"inputs\": [[1, 2]]}", 400, "inputs[0]"),
            ("request top_k out of range", "POST", "/v1/predict", "{\"inputs\": [[\(twelve)]], \"top_k\": 99}", 400, "top_k"),
            ("request body too large", "POST", "/v1/predict", String(repeating: " ", count: 4096), 413, "2048 bytes"),
            ("request to an unknown path", "GET", "/v2/predict", nil, 404, "/v2/predict"),
            ("request with the wrong method", "GET", "/v1/predict", nil, 405, "use POST"),
        ]
        for (name, method, path, body, status, message) in requests {
            let reply = try httpExchange(server.port, method, path, body: body)
            rows.append((name, "HTTP \(reply.status)", reply.body))
            XCTAssertEqual(reply.status, status, "\(name): \(reply.body)")
            XCTAssertTrue(reply.body.contains(message), "\(name): \(reply.body) does not name \(message)")
        }
    }

    private func writeBytes(_ name: String, _ bytes: [UInt8]) throws -> String {
        let url = scratch.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    private func writeTable() throws {
        XCTAssertGreaterThanOrEqual(rows.count, 40, "the table covers at least 40 cases")
        guard let path = ProcessInfo.processInfo.environment["DDP_BAD_INPUT_TABLE"], !path.isEmpty else { return }
        var text = "| case | exit | first line of the message |\n|---|---|---|\n"
        for row in rows {
            let line = row.line.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: scratch.path, with: "…")
            text += "| \(row.name) | \(row.outcome) | `\(line.prefix(160))` |\n"
        }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }
}
