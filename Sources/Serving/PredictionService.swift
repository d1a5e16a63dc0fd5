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

    public init(host: String = "127.0.0.1", port: Int = 8080, maxBatch: Int = 64, batchWindow: Duration = .milliseconds(2),
                maxBodyBytes: Int = 1 << 20, maxTokens: Int = 1000, idleTimeout: Duration = .seconds(15),
                maxConnections: Int = 1024, drainTimeout: Duration = .seconds(30)) {
        precondition(maxBatch >= 1, "ServiceOptions: maxBatch must be at least 1")
        precondition(maxBodyBytes >= 1, "ServiceOptions: maxBodyBytes must be at least 1")
        precondition(maxConnections >= 1, "ServiceOptions: maxConnections must be at least 1")
        (self.idleTimeout, self.maxConnections, self.drainTimeout) = (idleTimeout, maxConnections, drainTimeout)
        (self.host, self.port, self.maxBatch, self.batchWindow) = (host, port, maxBatch, batchWindow)
        (self.maxBodyBytes, self.maxTokens) = (maxBodyBytes, maxTokens)
    }
}

/// A loaded checkpoint served over HTTP:
/// - `POST /v1/predict`: JSON in, JSON out (classes and probabilities, or text);
///   concurrent classification requests are batched into one forward pass;
/// - `GET /healthz`: whether the service is up, and which model it serves;
/// - `GET /metrics`: Prometheus text format.
///
/// Every bad request is answered 4xx with a JSON `{"error": "..."}` that
/// says what is wrong; nothing a client sends can stop the service.
public final class PredictionService: Sendable {
    public let options: ServiceOptions
    public let metrics = ServiceMetrics()
    private let engine: InferenceEngine
    private let batcher: RequestBatcher
    private let parser: PredictRequestParser
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
        summary = [
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
        router.post("/v1/predict") { request, _ in
            await self.predict(request)
        }
        // A known path asked with the wrong method: 405 naming the right one.
        for (path, allowed) in [("/v1/predict", "POST"), ("/healthz", "GET"), ("/metrics", "GET")] {
            for method in [HTTPRequest.Method.get, .post, .put, .delete, .patch] where method.rawValue != allowed {
                router.on(RouterPath(path), method: method) { request, _ in
                    var response = self.json(.methodNotAllowed,
                                             ["error": "\(request.method.rawValue) is not allowed on \(path); use \(allowed)"])
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

    /// Answers one prediction request; never throws, so every failure gets its own status and message.
    private func predict(_ request: Request) async -> Response {
        var request = request
        // A declared length over the limit is refused before reading a byte of it.
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > options.maxBodyBytes {
            return json(.contentTooLarge, ["error": "request body of \(declared) bytes exceeds \(options.maxBodyBytes) bytes"])
        }
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: options.maxBodyBytes)
        } catch let error as HTTPResponseError where error.status == .contentTooLarge {
            return json(.contentTooLarge, ["error": "request body exceeds \(options.maxBodyBytes) bytes"])
        } catch {
            return json(.badRequest, ["error": "could not read the request body"])
        }
        let parsed: PredictRequest
        do {
            parsed = try parser.parse(Data(buffer: body))
        } catch let problem as RequestProblem {
            return json(.badRequest, ["error": problem.message])
        } catch {
            return json(.badRequest, ["error": "\(error)"])
        }
        do {
            switch parsed {
            case let .classify(values, rows, topK):
                let scores = try await batcher.classify(values: values, rows: rows, topK: topK)
                let predictions: [[String: Any]] = scores.map { top in
                    ["label": top[0].label,
                     "top": top.map { ["label": $0.label, "probability": finite($0.probability)] }]
                }
                return json(.ok, ["predictions": predictions])
            case let .generate(prompt, tokens, temperature, topK, seed):
                let result = try await engine.run { checkpoint in
                    try checkpoint.generate(prompt: prompt, count: tokens, temperature: temperature, topK: topK, seed: seed)
                }
                return json(.ok, ["prompt": result.prompt, "text": result.text, "tokens": result.tokens])
            }
        } catch let error as InferenceError {
            return json(.badRequest, ["error": error.description])
        } catch {
            return json(.internalServerError, ["error": "inference failed: \(error)"])
        }
    }

    private func finite(_ x: Double) -> Double { x.isFinite ? x : 0 }

    private func json(_ status: HTTPResponse.Status, _ object: [String: Any]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{\"error\":\"response could not be encoded\"}".utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
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
