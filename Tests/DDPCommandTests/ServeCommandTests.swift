import DDPTestSupport
@testable import Inference
import Foundation
import MPIRunSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `ddp serve` as a child process on a free loopback port, driven by real
/// HTTP requests: predictions match the model, concurrent requests are
/// batched, bad requests get 4xx answers that say why, the service stays
/// up through all of it, and SIGTERM stops it cleanly.
final class ServeCommandTests: InferenceTestCase {
    /// A connection to the service that the test holds open, sending `text` if given.
    private func openConnection(_ port: Int, sending text: String? = nil) throws -> Int32 {
        let fd = try connectToLoopback(port)
        if let text { _ = Array(text.utf8).withUnsafeBytes { send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) } }
        return fd
    }

    /// Whether the service closes `fd` (the test reads end of file, or a reset) within `seconds`.
    /// (A connection the service keeps open shows no data in that time: it sends nothing unasked.)
    private func closedByServer(_ fd: Int32, within seconds: Double) -> Bool {
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, 0)
        return n == 0 || (n < 0 && errno == ECONNRESET)
    }

    private func object(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    func testClassifierServiceBatchesValidatesAndStopsOnSIGTERM() throws {
        let run = try trainRun(Self.classifierConfig, name: "served")
        let session = try InferenceSession(path: run.path)
        let server = try ServeProcess(arguments: ["--checkpoint", run.path, "--max-batch", "16", "--batch-window-ms", "100",
                                            "--max-body-bytes", "4096"])
        var stopped = false
        defer { if !stopped { _ = server.stop() } }
        let port = server.port

        let health = try httpExchange(port, "GET", "/healthz")
        XCTAssertEqual(health.status, 200, health.body)
        XCTAssertEqual(try object(health.body)["status"] as? String, "ok")

        // Predictions equal the model's on the same raw values.
        let samples: [[Float]] = (0..<3).map { i in (0..<12).map { Float(sin(Double(i * 12 + $0))) * 2 } }
        let body = "{\"inputs\": [" + samples.map { "[" + $0.map { "\($0)" }.joined(separator: ",") + "]" }.joined(separator: ",")
            + "], \"top_k\": 2}"
        let answer = try httpExchange(port, "POST", "/v1/predict", body: body)
        XCTAssertEqual(answer.status, 200, answer.body)
        let predictions = try XCTUnwrap(try object(answer.body)["predictions"] as? [[String: Any]])
        let expected = session.classify(samples.flatMap { $0 }, rows: 3, topK: 2)
        XCTAssertEqual(predictions.count, 3)
        for (got, want) in zip(predictions, expected) {
            XCTAssertEqual(got["label"] as? Int, want[0].label)
            let top = try XCTUnwrap(got["top"] as? [[String: Any]])
            XCTAssertEqual(top.map { $0["label"] as? Int }, want.map(\.label))
            XCTAssertEqual(try XCTUnwrap(top[0]["probability"] as? Double), want[0].probability, accuracy: 1e-6)
        }

        // The same values in exponent form, with whitespace and the keys swapped: the same answer
        // (the service's shortcut for numeric bodies reads them as JSON does).
        let spaced = "{ \"top_k\" :\t2 ,\n \"inputs\" : [ " + samples.map { row in
            "[ " + row.map { String(format: "%.9e", Double($0)) }.joined(separator: " , ") + " ]"
        }.joined(separator: ", ") + " ] }"
        let again = try httpExchange(port, "POST", "/v1/predict", body: spaced)
        XCTAssertEqual(again.status, 200, again.body)
        XCTAssertEqual(try object(again.body)["predictions"] as? NSArray, try object(answer.body)["predictions"] as? NSArray)

        // 12 concurrent clients, each one sample: answered correctly, in fewer forward passes than requests.
        let clients = 12
        var results = [(Int, Int?)](repeating: (0, nil), count: clients)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: clients) { i in
            let sample = samples[i % 3]
            let single = "{\"inputs\": [[" + sample.map { "\($0)" }.joined(separator: ",") + "]]}"
            let reply = try? httpExchange(port, "POST", "/v1/predict", body: single)
            let label = reply.flatMap { try? JSONSerialization.jsonObject(with: Data($0.body.utf8)) as? [String: Any] }
                .flatMap { ($0["predictions"] as? [[String: Any]])?.first?["label"] as? Int }
            lock.lock()
            results[i] = (reply?.status ?? 0, label)
            lock.unlock()
        }
        for (i, result) in results.enumerated() {
            XCTAssertEqual(result.0, 200, "client \(i)")
            XCTAssertEqual(result.1, expected[i % 3][0].label, "client \(i)")
        }

        // Bad requests: each answered 4xx with a message naming the problem.
        let bad: [(String, String, String?, Int, String)] = [
            ("POST", "/v1/predict", "{not json", 400, "not valid JSON"),
            ("POST", "/v1/predict", "[1, 2]", 400, "must be a JSON object"),
            ("POST", "/v1/predict", "{\"inputs\": [[1, 2, 3]]}", 400, "inputs[0] has 3 values; the model takes 12"),
            ("POST", "/v1/predict", "{\"inputs\": [[" + Array(repeating: "\"a\"", count: 12).joined(separator: ",") + "]]}",
             400, "inputs[0][0] is not a number"),
            ("POST", "/v1/predict", "{\"inputs\": []}", 400, "\\\"inputs\\\" is empty"),
            ("POST", "/v1/predict", "{\"input\": [[1]]}", 400, "unknown field \\\"input\\\""),
            ("POST", "/v1/predict", "{\"inputs\": [[" + Array(repeating: "1e300", count: 12).joined(separator: ",") + "]]}",
             400, "is outside"),
            ("POST", "/v1/predict", "{\"image\": [[1]]}", 400, "not images"),
            ("POST", "/v1/predict", "{\"inputs\": [[" + Array(repeating: "0", count: 12).joined(separator: ",") + "]], \"top_k\": 9}",
             400, "\\\"top_k\\\" = 9 is not in 1...4"),
            ("POST", "/v1/predict", "{\"inputs\": [" + Array(repeating: "[" + Array(repeating: "0", count: 12).joined(separator: ",") + "]",
                                                             count: 17).joined(separator: ",") + "]}",
             400, "at most 16 per request"),
            ("POST", "/v1/predict", String(repeating: " ", count: 5000), 413, "exceeds 4096 bytes"),
            ("GET", "/nowhere", nil, 404, "no route for GET /nowhere"),
            ("GET", "/v1/predict", nil, 405, "GET is not allowed on /v1/predict; use POST"),
            ("DELETE", "/healthz", nil, 405, "use GET"),
        ]
        for (method, path, text, status, message) in bad {
            let reply = try httpExchange(port, method, path, body: text)
            XCTAssertEqual(reply.status, status, "\(method) \(path) \(text?.prefix(60) ?? ""): \(reply.body)")
            if !message.isEmpty { XCTAssertTrue(reply.body.contains(message), "\(reply.body) lacks \(message)") }
        }
        // A declared body over the limit is refused from its header alone.
        let declared = try httpExchange(port, "", "", raw: "POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                                + "Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{}")
        XCTAssertEqual(declared.status, 413, declared.body)
        XCTAssertTrue(declared.body.contains("exceeds 4096 bytes"), declared.body)
        // Garbage that is not HTTP at all only closes that connection.
        _ = try? httpExchange(port, "", "", raw: "\u{1}\u{2}GARBAGE\r\n\r\n")

        // Still up, and the metrics account for everything.
        XCTAssertEqual(try httpExchange(port, "GET", "/healthz").status, 200)
        let metrics = try httpExchange(port, "GET", "/metrics")
        XCTAssertEqual(metrics.status, 200)
        let lines = metrics.body.split(separator: "\n").map(String.init)
        func value(_ prefix: String) -> Double? {
            lines.first { $0.hasPrefix(prefix + " ") }.flatMap { Double($0.split(separator: " ").last!) }
        }
        XCTAssertEqual(value("ddp_serve_requests_total{path=\"/v1/predict\",status=\"200\"}"), Double(2 + clients))
        XCTAssertEqual(value("ddp_serve_requests_total{path=\"/v1/predict\",status=\"400\"}"), 10)
        XCTAssertEqual(value("ddp_serve_requests_total{path=\"/v1/predict\",status=\"413\"}"), 2)
        // 10 x 400, 2 x 413, 1 x 404 and 2 x 405; /v1/predict saw 13 of them.
        XCTAssertEqual(value("ddp_serve_errors_total{kind=\"client\"}"), 15)
        XCTAssertEqual(value("ddp_serve_request_duration_seconds_count{path=\"/v1/predict\"}"), Double(2 + clients + 13))
        XCTAssertEqual(value("ddp_serve_batch_size_sum"), Double(6 + clients))
        let passes = try XCTUnwrap(value("ddp_serve_batch_size_count"))
        XCTAssertLessThan(passes, Double(2 + clients), "concurrent requests within the window share forward passes")
        XCTAssertTrue(metrics.body.contains("# TYPE ddp_serve_request_duration_seconds histogram"))

        stopped = true
        XCTAssertEqual(server.stop(), 0, server.transcript)
        XCTAssertTrue(server.transcript.contains("ddp: serve stopped"), server.transcript)
    }

    /// The service's resource bounds: a half-sent request does not hold its
    /// connection past --idle-timeout, connections beyond --max-connections
    /// are closed on accept while the open ones stay served, and SIGTERM
    /// lets a request in flight finish before the exit 0.
    func testIdleTimeoutConnectionCapAndDrainOnSIGTERM() throws {
        let run = try trainRun(Self.classifierConfig, name: "bounded")
        let server = try ServeProcess(arguments: ["--checkpoint", run.path, "--idle-timeout", "3", "--max-connections", "6",
                                            "--batch-window-ms", "1500", "--drain-timeout", "20"])
        var stopped = false
        defer { if !stopped { _ = server.stop() } }
        let port = server.port

        // Half a request, then silence: closed after the idle timeout, not held.
        let started = Date()
        let halfSent = try openConnection(port, sending: "POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 50\r\n")
        defer { close(halfSent) }
        XCTAssertTrue(closedByServer(halfSent, within: 10), "a half-sent request held its connection")
        XCTAssertGreaterThan(Date().timeIntervalSince(started), 2.5, "closed before the idle timeout")

        // Nine idle connections against a cap of six: whichever the service
        // takes first, three are closed at once and six stay open.
        let held = try (0..<9).map { _ in try openConnection(port) }
        var watched = held.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        usleep(1_000_000)
        _ = poll(&watched, nfds_t(watched.count), 0)
        let refused = watched.filter { $0.revents != 0 }
        XCTAssertEqual(refused.count, 3, "connections beyond --max-connections are refused, the others kept")
        for connection in refused {
            var reply = [UInt8](repeating: 0, count: 512)
            let n = recv(connection.fd, &reply, reply.count, 0)
            let text = String(decoding: reply.prefix(max(n, 0)), as: UTF8.self)
            XCTAssertTrue(text.hasPrefix("HTTP/1.1 503"), text)
            XCTAssertTrue(text.contains("retry later"), text)
        }
        held.forEach { close($0) }
        usleep(300_000)
        XCTAssertEqual(try httpExchange(port, "GET", "/healthz").status, 200, "served again once connections closed")
        let metrics = try httpExchange(port, "GET", "/metrics").body
        XCTAssertTrue(metrics.contains("ddp_serve_refused_connections_total "), metrics)
        XCTAssertFalse(metrics.contains("ddp_serve_refused_connections_total 0\n"), metrics)

        // A request waiting out the 1.5 s batch window when SIGTERM arrives is still answered.
        let sample = "{\"inputs\": [[" + Array(repeating: "0.5", count: 12).joined(separator: ",") + "]]}"
        var inFlight: (status: Int, body: String)?
        let answered = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            inFlight = try? httpExchange(port, "POST", "/v1/predict", body: sample)
            answered.signal()
        }
        usleep(400_000)
        stopped = true
        kill(server.process.processIdentifier, SIGTERM)
        XCTAssertEqual(answered.wait(timeout: .now() + 30), .success, "the request in flight was never answered")
        XCTAssertEqual(inFlight?.status, 200, "\(String(describing: inFlight))")
        XCTAssertEqual(server.stop(), 0, server.transcript)
        XCTAssertTrue(server.transcript.contains("ddp: serve stopped"), server.transcript)
    }

    func testLanguageModelServiceGeneratesAndRejectsBadPrompts() throws {
        let run = try trainRun(Self.gptConfig, name: "served-gpt")
        let server = try ServeProcess(arguments: ["--checkpoint", run.path])
        var stopped = false
        defer { if !stopped { _ = server.stop() } }
        let reply = try httpExchange(server.port, "POST", "/v1/predict",
                             body: "{\"prompt\": \"1 2 3\", \"tokens\": 9, \"temperature\": 0.5, \"seed\": 3}")
        XCTAssertEqual(reply.status, 200, reply.body)
        XCTAssertEqual((try object(reply.body)["tokens"] as? [Int])?.count, 9)
        for (body, message) in [("{\"prompt\": \"\"}", "\\\"prompt\\\" is empty"),
                                ("{\"prompt\": 5}", "\\\"prompt\\\" must be a string"),
                                ("{\"prompt\": \"1\", \"tokens\": -1}", "\\\"tokens\\\" = -1 is not in 0...1000"),
                                ("{\"prompt\": \"1\", \"temperature\": \"hot\"}", "\\\"temperature\\\" must be a number"),
                                ("{\"prompt\": \"abc\"}", "is not a token id")] {
            let bad = try httpExchange(server.port, "POST", "/v1/predict", body: body)
            XCTAssertEqual(bad.status, 400, body)
            XCTAssertTrue(bad.body.contains(message), "\(bad.body) lacks \(message)")
        }
        XCTAssertEqual(try httpExchange(server.port, "GET", "/healthz").status, 200)
        stopped = true
        XCTAssertEqual(server.stop(), 0, server.transcript)
    }
}
