import ArgumentParser
import Dispatch
import Foundation
import Inference
import Logging
import Serving
import Training

/// `ddp serve`: a checkpoint as an HTTP prediction service.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a checkpoint over HTTP: its own JSON, OpenAI completions, the Open Inference Protocol (KServe v2).",
        discussion: """
            Classifier:      curl -s localhost:8080/v1/predict -d '{"inputs": [[784 pixel values 0-255]]}'
                             curl -s localhost:8080/v1/predict -d '{"image": [[28 values], ... 28 rows], "top_k": 3}'
                             Open Inference Protocol: GET /v2/health/ready, GET /v2/models/NAME,
                             POST /v2/models/NAME/infer (input "input", outputs "probabilities" and "label")
            Language model:  curl -s localhost:8080/v1/predict -d '{"prompt": "ROMEO:", "tokens": 100, "temperature": 0.8}'
                             OpenAI: GET /v1/models, POST /v1/completions (stream: true for server-sent events)
            NAME is --model-name, by default the run directory's name. Also GET /healthz and GET /metrics.
            Concurrent classification requests are batched into one forward pass. A connection silent for
            --idle-timeout seconds is closed, and beyond --max-connections new ones are closed on accept.
            SIGTERM or SIGINT stop accepting connections, finish the requests in flight (for at most
            --drain-timeout seconds), and exit 0.
            """
    )

    @Option(name: .long, help: "A checkpoint directory, or a run directory (its newest valid checkpoint).")
    var checkpoint: String

    @Option(name: .long, help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Option(name: .long, help: "Port to listen on; 0 picks a free port (printed at start).")
    var port: Int = 8080

    @Option(name: .customLong("max-batch"), help: "Most samples per forward pass (and per request).")
    var maxBatch: Int = 64

    @Option(name: .customLong("batch-window-ms"), help: "How long the first request of a batch waits for others, in milliseconds.")
    var batchWindowMilliseconds: Double = 2

    @Option(name: .customLong("max-body-bytes"), help: "Largest request body; larger ones are answered 413.")
    var maxBodyBytes: Int = 1 << 20

    @Option(name: .customLong("max-tokens"), help: "Most tokens one generation request may ask for.")
    var maxTokens: Int = 1000

    @Option(name: .customLong("idle-timeout"), help: "Seconds a connection may send nothing (mid-request or between requests) before it is closed.")
    var idleTimeout: Double = 15

    @Option(name: .customLong("max-connections"), help: "Connections open at once; more are closed as they are accepted.")
    var maxConnections: Int = 1024

    @Option(name: .customLong("drain-timeout"), help: "Seconds the requests in flight get to finish after SIGTERM or SIGINT.")
    var drainTimeout: Double = 30

    @Option(name: .customLong("model-name"), help: "The model's name in the OpenAI and Open Inference protocols (default: the run directory's name).")
    var modelName: String?

    @Option(name: .customLong("data-dir"), help: "Where the data sets are (only for checkpoints without recorded preprocessing).")
    var dataDirectory: String?

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535") }
        guard maxBatch >= 1 else { throw ValidationError("--max-batch must be at least 1") }
        guard batchWindowMilliseconds >= 0 && batchWindowMilliseconds <= 10_000 else {
            throw ValidationError("--batch-window-ms must be in 0...10000")
        }
        guard maxBodyBytes >= 1 else { throw ValidationError("--max-body-bytes must be at least 1") }
        guard maxTokens >= 0 else { throw ValidationError("--max-tokens must not be negative") }
        guard idleTimeout > 0 && idleTimeout <= 86_400 else { throw ValidationError("--idle-timeout must be in (0, 86400] seconds") }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1") }
        guard drainTimeout >= 0 && drainTimeout <= 86_400 else { throw ValidationError("--drain-timeout must be in [0, 86400] seconds") }
        if let modelName {
            guard !modelName.isEmpty, modelName.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
                throw ValidationError("--model-name '\(modelName)' must be letters, digits, '-', '_' or '.' (it goes into URL paths)")
            }
        }
    }

    func run() throws {
        var loaded: InferenceSession?
        try exitOnUserError {
            loaded = try InferenceSession(path: checkpoint, dataDirectory: dataDirectory)
        }
        guard let model = loaded else { return }
        for skipped in model.skipped {
            FileHandle.standardError.write(Data("ddp: warning: skipping invalid checkpoint: \(skipped)\n".utf8))
        }
        let options = ServiceOptions(host: host, port: port, maxBatch: maxBatch,
                                     batchWindow: .microseconds(Int64(batchWindowMilliseconds * 1000)),
                                     maxBodyBytes: maxBodyBytes, maxTokens: maxTokens,
                                     idleTimeout: .milliseconds(Int64(idleTimeout * 1000)), maxConnections: maxConnections,
                                     drainTimeout: .milliseconds(Int64(drainTimeout * 1000)), modelName: modelName)
        let service = PredictionService(checkpoint: model, options: options)
        let what = model.classCount > 0 ? "\(model.classCount)-class classifier, input \(model.sampleShape)" : "language model"
        var logger = Logger(label: "ddp.serve")
        logger.logLevel = .warning

        // The command line is synchronous; the service runs as a task and
        // this thread waits for it (nothing in the service needs the main thread).
        let finished = DispatchSemaphore(value: 0)
        let failure = FailureBox()
        Task {
            do {
                try await service.run(logger: logger) { address in
                    print("ddp: serving \(model.directory.path) (step \(model.state.step), \(what)) as '\(service.modelName)' on http://\(address)")
                    fflush(stdout)
                }
            } catch {
                failure.error = error
            }
            finished.signal()
        }
        finished.wait()
        if let error = failure.error {
            printError("serve: \(error)")
            throw ExitCode(JobExitCode.failure)
        }
        print("ddp: serve stopped")
    }
}

/// Carries the service's error from its task back to the waiting thread;
/// the semaphore orders the write before the read.
private final class FailureBox: @unchecked Sendable {
    var error: Error?
}
