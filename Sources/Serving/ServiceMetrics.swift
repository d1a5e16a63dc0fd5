import Foundation

/// Counters and histograms of the service, rendered in the Prometheus text
/// exposition format for `GET /metrics`.
///
/// Updated from many request tasks at once, so every access takes a lock;
/// the work under it is a few additions.
public final class ServiceMetrics: @unchecked Sendable {
    /// Upper bounds of the request latency buckets, in seconds.
    public static let latencyBuckets: [Double] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    /// Upper bounds of the batch size buckets, in samples.
    public static let batchBuckets: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]

    private let lock = NSLock()
    private var requests: [Key: Int] = [:]
    private var errors: [String: Int] = [:]
    private var latency: [String: Histogram] = [:]
    private var batches = Histogram(bounds: ServiceMetrics.batchBuckets)
    private var generatedTokens = 0
    private var generationsInFlight = 0

    private struct Key: Hashable {
        var path: String
        var status: Int
    }

    private struct Histogram {
        let bounds: [Double]
        var counts: [Int]
        var sum = 0.0
        var count = 0

        init(bounds: [Double]) {
            self.bounds = bounds
            counts = [Int](repeating: 0, count: bounds.count)
        }

        mutating func observe(_ value: Double) {
            // Buckets are cumulative in the exposition; store per bucket and add up when rendering.
            if let index = bounds.firstIndex(where: { value <= $0 }) { counts[index] += 1 }
            sum += value
            count += 1
        }
    }

    public init() {}

    /// Connections open now and refused so far (see ``ConnectionLimit``), read when rendering.
    var connectionCounts: (@Sendable () -> (open: Int, refused: Int))?

    /// The paths reported by name; everything else is `other`, so that
    /// scanners probing random URLs cannot grow the label set without bound.
    static let knownPaths: Set<String> = [
        "/v1/predict", "/healthz", "/metrics", "/v1/completions", "/v1/models", "/v2", "/v2/health/ready", "/v2/health/live",
    ]

    /// The label of a path: itself when known; a model's Open Inference
    /// paths with the name replaced, so that any name a client tries is one label.
    static func label(for path: String) -> String {
        if knownPaths.contains(path) { return path }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count >= 4 && parts[1] == "v2" && parts[2] == "models" {
            let rest = parts.dropFirst(4).joined(separator: "/")
            if ["", "ready", "infer"].contains(rest) { return "/v2/models/{model}" + (rest.isEmpty ? "" : "/" + rest) }
        }
        if parts.count == 4 && parts[1] == "v1" && parts[2] == "models" { return "/v1/models/{model}" }
        return "other"
    }

    /// Records one answered request.
    ///
    /// - Parameters:
    ///   - path: The request path.
    ///   - status: The HTTP status code of the answer.
    ///   - seconds: Time from receiving the request to having the answer.
    public func recordRequest(path: String, status: Int, seconds: Double) {
        let label = Self.label(for: path)
        lock.lock()
        defer { lock.unlock() }
        requests[Key(path: label, status: status), default: 0] += 1
        latency[label, default: Histogram(bounds: Self.latencyBuckets)].observe(seconds)
        if status >= 500 {
            errors["server", default: 0] += 1
        } else if status >= 400 {
            errors["client", default: 0] += 1
        }
    }

    /// Records one forward pass over `size` samples.
    public func recordBatch(size: Int) {
        lock.lock()
        defer { lock.unlock() }
        batches.observe(Double(size))
    }

    /// Marks a text generation as started; ``generationEnded(tokens:)`` ends it.
    public func generationStarted() {
        lock.lock()
        defer { lock.unlock() }
        generationsInFlight += 1
    }

    /// Records a finished (or failed, with 0 tokens) text generation.
    public func generationEnded(tokens: Int) {
        lock.lock()
        defer { lock.unlock() }
        generationsInFlight -= 1
        generatedTokens += tokens
    }

    /// Requests answered with `status` on `path` so far.
    public func requestCount(path: String, status: Int) -> Int {
        lock.lock()
        defer { lock.unlock() }
        return requests[Key(path: path, status: status)] ?? 0
    }

    /// Everything, in the Prometheus text format (version 0.0.4).
    public func prometheusText() -> String {
        lock.lock()
        defer { lock.unlock() }
        var out = ""
        out += "# HELP ddp_serve_requests_total HTTP requests answered, by path and status code.\n"
        out += "# TYPE ddp_serve_requests_total counter\n"
        for (key, count) in requests.sorted(by: { ($0.key.path, $0.key.status) < ($1.key.path, $1.key.status) }) {
            out += "ddp_serve_requests_total{path=\"\(key.path)\",status=\"\(key.status)\"} \(count)\n"
        }
        out += "# HELP ddp_serve_errors_total Requests answered with an error: client (4xx) or server (5xx).\n"
        out += "# TYPE ddp_serve_errors_total counter\n"
        for kind in ["client", "server"] {
            out += "ddp_serve_errors_total{kind=\"\(kind)\"} \(errors[kind] ?? 0)\n"
        }
        out += "# HELP ddp_serve_request_duration_seconds Time to answer a request, by path.\n"
        out += "# TYPE ddp_serve_request_duration_seconds histogram\n"
        for (path, histogram) in latency.sorted(by: { $0.key < $1.key }) {
            out += render(histogram, name: "ddp_serve_request_duration_seconds", labels: "path=\"\(path)\",")
        }
        if let (open, refused) = connectionCounts?() {
            out += "# HELP ddp_serve_open_connections Client connections open now.\n"
            out += "# TYPE ddp_serve_open_connections gauge\n"
            out += "ddp_serve_open_connections \(open)\n"
            out += "# HELP ddp_serve_refused_connections_total Connections closed on accept: --max-connections were open.\n"
            out += "# TYPE ddp_serve_refused_connections_total counter\n"
            out += "ddp_serve_refused_connections_total \(refused)\n"
        }
        out += "# HELP ddp_serve_batch_size Samples per forward pass of the model (batched requests).\n"
        out += "# TYPE ddp_serve_batch_size histogram\n"
        out += render(batches, name: "ddp_serve_batch_size", labels: "")
        out += "# HELP ddp_serve_generated_tokens_total Tokens generated by language-model requests.\n"
        out += "# TYPE ddp_serve_generated_tokens_total counter\n"
        out += "ddp_serve_generated_tokens_total \(generatedTokens)\n"
        out += "# HELP ddp_serve_generations_in_flight Language-model requests generating now.\n"
        out += "# TYPE ddp_serve_generations_in_flight gauge\n"
        out += "ddp_serve_generations_in_flight \(generationsInFlight)\n"
        return out
    }

    private func render(_ histogram: Histogram, name: String, labels: String) -> String {
        var out = ""
        var cumulative = 0
        for (bound, count) in zip(histogram.bounds, histogram.counts) {
            cumulative += count
            out += "\(name)_bucket{\(labels)le=\"\(format(bound))\"} \(cumulative)\n"
        }
        out += "\(name)_bucket{\(labels)le=\"+Inf\"} \(histogram.count)\n"
        let plain = labels.isEmpty ? "" : "{\(labels.dropLast())}"
        out += "\(name)_sum\(plain) \(format(histogram.sum))\n"
        out += "\(name)_count\(plain) \(histogram.count)\n"
        return out
    }

    private func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}
