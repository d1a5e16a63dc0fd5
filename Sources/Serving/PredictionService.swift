import Foundation
import Hummingbird
import HummingbirdCore
import Inference
import Logging
import ServiceLifecycle

/// How `ddp serve` runs.
public struct ServiceOptions: Sendable {
    /// Address to listen on.
    public var host: String
    /// Port to listen on; 0 picks a free one (printed at start).
    public var port: Int
    /// Most samples per forward pass, and per classification request.
    public var maxBatch: Int
    /// How long the first request of a batch waits for others.
    public var batchWindow: Duration
    /// Largest request body accepted; larger ones are answered 413.
    public var maxBodyBytes: Int
    /// Most tokens one generation request may ask for.
    public var maxTokens: Int
    /// A connection that sends nothing for this long, in the middle of a
    /// request or between requests, is closed: half-sent requests and idle
    /// keep-alive sockets do not hold the service's connections for ever.
    public var idleTimeout: Duration
    /// Connections open at once, at most; more are closed when accepted.
    public var maxConnections: Int
    /// After SIGTERM or SIGINT, how long the requests in flight may take to
    /// finish before the service stops anyway.
    public var drainTimeout: Duration
    /// The model's name in the OpenAI and Open Inference protocols; `nil`
    /// names it after its run directory.
    public var modelName: String?

    public init(host: String = "127.0.0.1", port: Int = 8080, maxBatch: Int = 64, batchWindow: Duration = .milliseconds(2),
                maxBodyBytes: Int = 1 << 20, maxTokens: Int = 1000, idleTimeout: Duration = .seconds(15),
                maxConnections: Int = 1024, drainTimeout: Duration = .seconds(30), modelName: String? = nil) {
        precondition(maxBatch >= 1, "ServiceOptions: maxBatch must be at least 1")
        precondition(maxBodyBytes >= 1, "ServiceOptions: maxBodyBytes must be at least 1")
        precondition(maxConnections >= 1, "ServiceOptions: maxConnections must be at least 1")
        (self.idleTimeout, self.maxConnections, self.drainTimeout) = (idleTimeout, maxConnections, drainTimeout)
        (self.host, self.port, self.maxBatch, self.batchWindow) = (host, port, maxBatch, batchWindow)
        (self.maxBodyBytes, self.maxTokens, self.modelName) = (maxBodyBytes, maxTokens, modelName)
    }
}

/// A loaded checkpoint served over HTTP:
/// - `POST /v1/predict`: JSON in, JSON out (classes and probabilities, or text);
///   concurrent classification requests are batched into one forward pass;
/// - OpenAI's `POST /v1/completions` and `GET /v1/models` for language models;
/// - the Open Inference Protocol (KServe v2) for classifiers: `/v2/health/*`,
///   `GET /v2/models/{name}`, `POST /v2/models/{name}/infer`;
/// - `GET /healthz`: whether the service is up, and which model it serves;
/// - `GET /metrics`: Prometheus text format.
///
/// Every bad request is answered 4xx with a body in its protocol's error
/// shape that says what is wrong; nothing a client sends can stop the service.
public final class PredictionService: Sendable {
    public let options: ServiceOptions
    public let metrics = ServiceMetrics()
    /// The model's name in the OpenAI and Open Inference protocols.
    public let modelName: String
    /// When the service started, in seconds since 1970 (OpenAI's `created`).
    let started = Int(Date().timeIntervalSince1970)
    let engine: InferenceEngine
    let batcher: RequestBatcher
    let parser: PredictRequestParser
    let completionParser: OpenAICompletionParser
    private let summary: [String: String]
    private let connections: ConnectionLimit

    /// - Parameters:
    ///   - checkpoint: The model to serve; from now on only the service uses it.
    ///   - options: Address, batching and limits.
    public init(checkpoint: InferenceSession, options: ServiceOptions) {
        self.options = options
        connections = ConnectionLimit(limit: options.maxConnections)
        metrics.connectionCounts = { [connections] in connections.counts }
        engine = InferenceEngine(checkpoint)
        batcher = RequestBatcher(engine: engine, metrics: metrics, maxBatch: options.maxBatch, window: options.batchWindow)
        parser = PredictRequestParser(maxBatch: options.maxBatch, maxTokens: options.maxTokens,
                                      sampleShape: checkpoint.sampleShape, classes: checkpoint.classCount)
        completionParser = OpenAICompletionParser(maxTokens: options.maxTokens)
        modelName = options.modelName ?? Self.runName(of: checkpoint.directory)
        summary = [
            "name": modelName,
            "model": checkpoint.config.run.model.kind,
            "dataset": checkpoint.config.run.data.dataset,
            "checkpoint": checkpoint.directory.path,
            "step": String(checkpoint.state.step),
            "input": checkpoint.classCount > 0 ? "\(checkpoint.sampleShape)" : "prompt",
        ]
    }

    /// Serves until SIGTERM or SIGINT, then stops accepting connections,
    /// finishes the requests in flight, and returns.
    ///
    /// - Parameter onListening: Called with the bound address once the server is up.
    /// - Throws: When the address cannot be bound.
    public func run(logger: Logger, onListening: @escaping @Sendable (String) -> Void) async throws {
        let router = Router()
        let shutdown = ShutdownNotice()
        router.add(middleware: CloseOnShutdownMiddleware(notice: shutdown))
        router.add(middleware: MetricsMiddleware(metrics: metrics))
        router.add(middleware: JSONErrorMiddleware())
        router.get("/healthz") { _, _ in
            self.json(.ok, ["status": "ok"].merging(self.summary) { a, _ in a })
        }
        router.get("/metrics") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: self.metrics.prometheusText())))
        }
        addPredictRoute(to: router)
        addOpenAIRoutes(to: router)
        addOpenInferenceRoutes(to: router)
        // A known path asked with the wrong method: 405 naming the right one.
        let fixed = [("/v1/predict", "POST"), ("/healthz", "GET"), ("/metrics", "GET"), ("/v1/completions", "POST"),
                     ("/v1/models", "GET"), ("/v2", "GET"), ("/v2/health/ready", "GET"), ("/v2/health/live", "GET"),
                     ("/v2/models/{model}", "GET"), ("/v2/models/{model}/ready", "GET"), ("/v2/models/{model}/infer", "POST")]
        for (path, allowed) in fixed {
            for method in [HTTPRequest.Method.get, .post, .put, .delete, .patch] where method.rawValue != allowed {
                router.on(RouterPath(path), method: method) { request, _ in
                    var response = self.json(.methodNotAllowed,
                                             ["error": "\(request.method.rawValue) is not allowed on \(request.uri.path); use \(allowed)"])
                    response.headers[.allow] = allowed
                    return response
                }
            }
        }
        let idle = options.idleTimeout.components
        let http1 = HTTP1Channel.Configuration(idleTimeout: .nanoseconds(idle.seconds * 1_000_000_000 + idle.attoseconds / 1_000_000_000))
        let connections = self.connections
        let app = Application(
            router: router,
            server: HTTPServerBuilder { responder in
                ConnectionLimitedChannel(inner: HTTP1Channel(responder: responder, configuration: http1), limit: connections)
            },
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: "ddp-serve"),
            onServerRunning: { [options] channel in
                onListening(channel.localAddress.map { "\($0.ipAddress ?? options.host):\($0.port ?? options.port)" }
                    ?? "\(options.host):\(options.port)")
            },
            logger: logger
        )
        // SIGTERM and SIGINT start a graceful shutdown: the listener closes,
        // requests in flight finish (up to drainTimeout), then run returns.
        // Services shut down last first: the notice learns of the shutdown before the server quiesces.
        var group = ServiceGroupConfiguration(
            services: [.init(service: app), .init(service: shutdown, successTerminationBehavior: .ignore)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        group.maximumGracefulShutdownDuration = options.drainTimeout
        try await ServiceGroup(configuration: group).run()
    }

    /// The request's body, or the answer to give when it cannot be had:
    /// too large (413, from its declared length before reading a byte), or unreadable.
    func body(of request: Request) async -> Result<Data, BodyProblem> {
        var request = request
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > options.maxBodyBytes {
            return .failure(BodyProblem(status: .contentTooLarge,
                                        message: "request body of \(declared) bytes exceeds \(options.maxBodyBytes) bytes"))
        }
        do {
            return .success(Data(buffer: try await request.collectBody(upTo: options.maxBodyBytes)))
        } catch let error as HTTPResponseError where error.status == .contentTooLarge {
            return .failure(BodyProblem(status: .contentTooLarge, message: "request body exceeds \(options.maxBodyBytes) bytes"))
        } catch {
            return .failure(BodyProblem(status: .badRequest, message: "could not read the request body"))
        }
    }

    /// The name of the run a checkpoint belongs to: `runs/NAME/checkpoints/step-…` gives NAME.
    static func runName(of checkpoint: URL) -> String {
        let parent = checkpoint.deletingLastPathComponent()
        let run = parent.lastPathComponent == "checkpoints" ? parent.deletingLastPathComponent() : parent
        // The name goes into URL paths: anything but letters, digits, '-', '_' and '.' becomes '-'.
        let name = String(run.lastPathComponent.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "-" })
        return name.isEmpty || name.allSatisfy({ $0 == "-" || $0 == "." }) ? "model" : name
    }

    func finite(_ x: Double) -> Double { x.isFinite ? x : 0 }

    func json(_ status: HTTPResponse.Status, _ object: [String: Any]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{\"error\":\"response could not be encoded\"}".utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Why a request body could not be had, and the status that says so.
struct BodyProblem: Error {
    let status: HTTPResponse.Status
    let message: String
}

/// Gives the router's own errors (a path it does not know) a JSON body like
/// every other answer of the service, instead of an empty one.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPResponseError {
            let message = error.status == .notFound
                ? "no route for \(request.method.rawValue) \(request.uri.path)"
                : error.status.reasonPhrase
            let data = (try? JSONSerialization.data(withJSONObject: ["error": message], options: [.withoutEscapingSlashes]))
                ?? Data("{\"error\":\"\(error.status.code)\"}".utf8)
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            return Response(status: error.status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
    }
}

/// Counts every answer, including the router's own 404s and 405s, by status and latency.
struct MetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServiceMetrics

    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        func seconds() -> Double {
            let elapsed = ContinuousClock.now - start
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        }
        do {
            let response = try await next(request, context)
            metrics.recordRequest(path: request.uri.path, status: response.status.code, seconds: seconds())
            return response
        } catch let error as HTTPResponseError {
            metrics.recordRequest(path: request.uri.path, status: error.status.code, seconds: seconds())
            throw error
        } catch {
            metrics.recordRequest(path: request.uri.path, status: 500, seconds: seconds())
            throw error
        }
    }
}
