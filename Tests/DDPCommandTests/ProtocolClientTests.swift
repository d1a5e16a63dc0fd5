import DDPTestSupport
@testable import Inference
import Foundation
import MPIRunSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `ddp serve` driven by the ecosystem's official clients, installed with
/// pip by launch/test.sh: OpenAI's `openai` package against the completions
/// protocol, and Triton's `tritonclient[http]` against the Open Inference
/// Protocol. A missing client fails the test.
final class ProtocolClientTests: InferenceTestCase {
    /// Runs `script` with python3, `arguments` after it, and returns what it printed as JSON.
    private func python(_ script: String, _ arguments: [String], needs modules: String) throws -> [String: Any] {
        let check = try MPIRun.runProcess(executable: URL(fileURLWithPath: "/usr/bin/env"),
                                          arguments: ["python3", "-c", "import \(modules)"], timeout: 120)
        guard check.exitCode == 0 else {
            throw Prerequisite.missing("python3 cannot import \(modules) (launch/test.sh installs it): \(check.stderr)")
        }
        let result = try MPIRun.runProcess(executable: URL(fileURLWithPath: "/usr/bin/env"),
                                           arguments: ["python3", "-c", script] + arguments, timeout: 300)
        XCTAssertEqual(result.exitCode, 0, "\(result)")
        let line = try XCTUnwrap(result.stdoutLines.last { $0.hasPrefix("{") }, "no JSON from the client: \(result)")
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    /// A character model trained on a small repeated text.
    private func characterModel() throws -> URL {
        let data = scratch.appendingPathComponent("data")
        let directory = data.appendingPathComponent("shakespeare")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let text = String(repeating: "To be, or not to be: that is the question.\n", count: 60)
        try text.write(to: directory.appendingPathComponent("shakespeare.txt"), atomically: true, encoding: .utf8)
        let yaml = Self.gptConfig.replacingOccurrences(of: "dataset: synthetic_text", with: "dataset: shakespeare")
            .replacingOccurrences(of: "  samples: 96\n  vocabulary: 11\n", with: "  dir: \(data.path)\n")
            .replacingOccurrences(of: "steps: 16", with: "steps: 60")
        return try trainRun(yaml, name: "poem")
    }

    static let openAIScript = """
        import json, sys
        import openai
        client = openai.OpenAI(base_url="http://127.0.0.1:%s/v1" % sys.argv[1], api_key="unused", max_retries=0)
        out = {"models": [m.id for m in client.models.list().data]}
        name = out["models"][0]
        def complete(**kw):
            r = client.completions.create(model=name, prompt="To be", **kw)
            c = r.choices[0]
            return {"text": c.text, "finish": c.finish_reason, "usage": [r.usage.prompt_tokens, r.usage.completion_tokens]}
        def stream(**kw):
            pieces, finish, chunks = [], None, 0
            for chunk in client.completions.create(model=name, prompt="To be", stream=True, **kw):
                chunks += 1
                for c in chunk.choices:
                    pieces.append(c.text)
                    finish = c.finish_reason or finish
            return {"text": "".join(pieces), "finish": finish, "chunks": chunks}
        out["greedy"] = complete(max_tokens=40, temperature=0)
        out["greedy_stream"] = stream(max_tokens=40, temperature=0)
        out["sampled"] = complete(max_tokens=30, temperature=0.9, top_p=0.9, seed=11)
        out["sampled_again"] = complete(max_tokens=30, temperature=0.9, top_p=0.9, seed=11)
        out["sampled_stream"] = stream(max_tokens=30, temperature=0.9, top_p=0.9, seed=11)
        stop = out["greedy"]["text"][6:8]
        out["stop"] = stop
        out["stopped"] = complete(max_tokens=40, temperature=0, stop=[stop, "@@"])
        out["stopped_stream"] = stream(max_tokens=40, temperature=0, stop=[stop, "@@"])
        out["short"] = complete(max_tokens=5, temperature=0)
        errors = {}
        for key, kw in {"negative": {"max_tokens": -1}, "too_hot": {"temperature": 7},
                        "unknown_char": {"prompt": "To be \\u00e9"}, "several": {"n": 3},
                        "unknown_model": {"model": "no-such-model"}}.items():
            args = {"model": name, "prompt": "To be", "max_tokens": 4}
            args.update(kw)
            try:
                client.completions.create(**args)
                errors[key] = None
            except openai.APIStatusError as e:
                errors[key] = {"type": type(e).__name__, "status": e.status_code, "message": e.message}
        out["errors"] = errors
        out["still_up"] = complete(max_tokens=3, temperature=0)["finish"]
        print(json.dumps(out))
        """

    func testOpenAIClientCompletesStreamsAndStops() throws {
        let run = try characterModel()
        let server = try ServeProcess(arguments: ["--checkpoint", run.path, "--max-tokens", "100"])
        defer { _ = server.stop() }
        let out = try python(Self.openAIScript, [String(server.port)], needs: "openai")
        XCTAssertEqual(out["models"] as? [String], ["poem"])

        func result(_ key: String) throws -> [String: Any] { try XCTUnwrap(out[key] as? [String: Any], key) }
        let greedy = try result("greedy")
        let text = try XCTUnwrap(greedy["text"] as? String)
        XCTAssertEqual(text.count, 40, text)
        XCTAssertEqual(greedy["finish"] as? String, "length")
        XCTAssertEqual(greedy["usage"] as? [Int], [5, 40])
        // The same model in-process gives the same greedy text.
        let session = try InferenceSession(path: run.path)
        XCTAssertEqual(try session.complete(CompletionRequest(prompt: "To be", maxTokens: 40, temperature: 0)).text, text)

        // Streaming hands out the same text, in more than one chunk.
        let greedyStream = try result("greedy_stream")
        XCTAssertEqual(greedyStream["text"] as? String, text)
        XCTAssertEqual(greedyStream["finish"] as? String, "length")
        XCTAssertGreaterThan(try XCTUnwrap(greedyStream["chunks"] as? Int), 5)
        // A seed fixes a sampled completion, streamed or not.
        let sampled = try XCTUnwrap(try result("sampled")["text"] as? String)
        XCTAssertEqual(sampled.count, 30)
        XCTAssertEqual(try result("sampled_again")["text"] as? String, sampled)
        XCTAssertEqual(try result("sampled_stream")["text"] as? String, sampled)

        // stop ends the text before the first stop sequence; max_tokens caps it.
        let stop = try XCTUnwrap(out["stop"] as? String)
        let expected = String(text[..<text.range(of: stop)!.lowerBound])
        for key in ["stopped", "stopped_stream"] {
            XCTAssertEqual(try result(key)["text"] as? String, expected, key)
            XCTAssertEqual(try result(key)["finish"] as? String, "stop", key)
        }
        XCTAssertEqual(try result("short")["text"] as? String, String(text.prefix(5)))
        XCTAssertEqual(try result("short")["finish"] as? String, "length")

        // Bad requests raise the client's typed errors with the message, and the service stays up.
        let errors = try result("errors")
        let expectations: [(String, String, Int, String)] = [
            ("negative", "BadRequestError", 400, "\"max_tokens\" = -1 is not in 0...100"),
            ("too_hot", "BadRequestError", 400, "\"temperature\" = 7.0 is not in 0.0...2.0"),
            ("unknown_char", "BadRequestError", 400, "is not in the model's vocabulary"),
            ("several", "BadRequestError", 400, "\"n\" = 3 is not supported"),
            ("unknown_model", "NotFoundError", 404, "the model 'no-such-model' does not exist"),
        ]
        for (key, type, status, message) in expectations {
            let error = try XCTUnwrap(errors[key] as? [String: Any], "\(key) raised nothing")
            XCTAssertEqual(error["type"] as? String, type, key)
            XCTAssertEqual(error["status"] as? Int, status, key)
            XCTAssertTrue((error["message"] as? String ?? "").contains(message), "\(key): \(error)")
        }
        XCTAssertEqual(out["still_up"] as? String, "length")
    }

    static let tritonScript = """
        import json, sys
        import numpy as np
        import tritonclient.http as httpclient
        from tritonclient.utils import InferenceServerException
        client = httpclient.InferenceServerClient(url="127.0.0.1:" + sys.argv[1])
        name, images = sys.argv[2], np.fromfile(sys.argv[3], dtype=np.uint8)[16:].reshape(-1, 1, 28, 28)
        out = {"live": client.is_server_live(), "ready": client.is_server_ready(), "model_ready": client.is_model_ready(name)}
        out["metadata"] = client.get_model_metadata(name)
        def infer(array, datatype, binary_in, binary_out):
            tensor = httpclient.InferInput("input", list(array.shape), datatype)
            tensor.set_data_from_numpy(array, binary_data=binary_in)
            outputs = [httpclient.InferRequestedOutput(n, binary_data=binary_out) for n in ("probabilities", "label")]
            result = client.infer(name, [tensor], outputs=outputs, request_id="r1")
            return {"probabilities": result.as_numpy("probabilities").tolist(),
                    "label": result.as_numpy("label").tolist(), "id": result.get_response()["id"]}
        floats = images.astype(np.float32)
        out["binary"] = infer(floats, "FP32", True, True)
        out["json"] = infer(floats, "FP32", False, False)
        out["uint8"] = infer(images, "UINT8", True, False)
        out["shorter"] = infer(floats[:3], "FP32", True, True)
        errors = {}
        def bad(key, call):
            try:
                call()
                errors[key] = None
            except InferenceServerException as e:
                errors[key] = {"status": e.status(), "message": e.message()}
        def wrong_shape():
            t = httpclient.InferInput("input", [8, 784], "FP32")
            t.set_data_from_numpy(floats.reshape(8, 784))
            client.infer(name, [t])
        def wrong_name():
            t = httpclient.InferInput("pixels", list(floats.shape), "FP32")
            t.set_data_from_numpy(floats)
            client.infer(name, [t])
        def wrong_model():
            t = httpclient.InferInput("input", list(floats.shape), "FP32")
            t.set_data_from_numpy(floats)
            client.infer("elsewhere", [t])
        bad("shape", wrong_shape)
        bad("name", wrong_name)
        bad("model", wrong_model)
        bad("metadata", lambda: client.get_model_metadata("elsewhere"))
        out["errors"] = errors
        out["ready_after"] = client.is_server_ready()
        print(json.dumps(out))
        """

    func testTritonClientReadsMetadataAndInfersLikePredict() throws {
        let data = try requireMNIST()
        let yaml = Self.mnistMLPConfig(data: data, steps: 40, logEvery: 20, evalBatches: 2)
        let run = try trainRun(yaml, name: "digits")
        // Eight test images as an IDX file, for `ddp predict` and the client alike.
        let count = 8
        let source = try Data(contentsOf: URL(fileURLWithPath: data + "/mnist/t10k-images-idx3-ubyte"))
        var idx = Data([0, 0, 8, 3, 0, 0, 0, UInt8(count), 0, 0, 0, 28, 0, 0, 0, 28])
        idx.append(source[16..<(16 + count * 784)])
        let idxPath = scratch.appendingPathComponent("eight.idx").path
        try idx.write(to: URL(fileURLWithPath: idxPath))
        let predict = try ddp(["predict", "--checkpoint", run.path, "--input", idxPath, "--json", "--top-k", "10"])
        XCTAssertEqual(predict.exitCode, 0, "\(predict)")
        let predictions = try XCTUnwrap(try jsonOutput(predict)["predictions"] as? [[[String: Any]]])
        var expected = [[Double]](repeating: [Double](repeating: 0, count: 10), count: count)
        for (i, top) in predictions.enumerated() {
            for entry in top { expected[i][try XCTUnwrap(entry["label"] as? Int)] = try XCTUnwrap(entry["probability"] as? Double) }
        }

        let server = try ServeProcess(arguments: ["--checkpoint", run.path, "--max-batch", "16"])
        defer { _ = server.stop() }
        let out = try python(Self.tritonScript, [String(server.port), "digits", idxPath], needs: "tritonclient.http")
        XCTAssertEqual(out["live"] as? Bool, true)
        XCTAssertEqual(out["ready"] as? Bool, true)
        XCTAssertEqual(out["model_ready"] as? Bool, true)
        let metadata = try XCTUnwrap(out["metadata"] as? [String: Any])
        XCTAssertEqual(metadata["name"] as? String, "digits")
        let inputs = try XCTUnwrap(metadata["inputs"] as? [[String: Any]])
        XCTAssertEqual(inputs.first?["name"] as? String, "input")
        XCTAssertEqual(inputs.first?["datatype"] as? String, "FP32")
        XCTAssertEqual(inputs.first?["shape"] as? [Int], [-1, 1, 28, 28])
        let outputs = try XCTUnwrap(metadata["outputs"] as? [[String: Any]])
        XCTAssertEqual(outputs.map { $0["name"] as? String }, ["probabilities", "label"])
        XCTAssertEqual(outputs.first?["shape"] as? [Int], [-1, 10])

        for key in ["binary", "json", "uint8", "shorter"] {
            let result = try XCTUnwrap(out[key] as? [String: Any], key)
            XCTAssertEqual(result["id"] as? String, "r1", key)
            let probabilities = try XCTUnwrap(result["probabilities"] as? [[Double]], key)
            let labels = try XCTUnwrap(result["label"] as? [Int], key)
            XCTAssertEqual(probabilities.count, key == "shorter" ? 3 : count, key)
            for (i, row) in probabilities.enumerated() {
                for (c, p) in row.enumerated() { XCTAssertEqual(p, expected[i][c], accuracy: 1e-5, "\(key) [\(i)][\(c)]") }
                XCTAssertEqual(labels[i], row.indices.max { row[$0] < row[$1] }, "\(key) label \(i)")
            }
        }

        let errors = try XCTUnwrap(out["errors"] as? [String: Any])
        let expectations: [(String, String, String)] = [
            ("shape", "400", "shape [8, 784] does not match the model's [batch, 1, 28, 28]"),
            ("name", "400", "the model has no input \"pixels\""),
            ("model", "404", "model 'elsewhere' is not served here"),
            ("metadata", "404", "model 'elsewhere' is not served here"),
        ]
        for (key, status, message) in expectations {
            let error = try XCTUnwrap(errors[key] as? [String: Any], "\(key) raised nothing")
            XCTAssertEqual(error["status"] as? String, status, "\(key): \(error)")
            XCTAssertTrue((error["message"] as? String ?? "").contains(message), "\(key): \(error)")
        }
        XCTAssertEqual(out["ready_after"] as? Bool, true)
    }

    /// Malformed requests of both protocols, sent raw: each gets a 4xx in its
    /// protocol's error shape, and the service answers normally afterwards.
    func testMalformedProtocolRequestsGet4xxAndTheServiceStaysUp() throws {
        let classifier = try trainRun(Self.classifierConfig, name: "tabular")
        let server = try ServeProcess(arguments: ["--checkpoint", classifier.path, "--max-batch", "4", "--max-body-bytes", "8192"])
        defer { _ = server.stop() }
        let twelve = "[" + Array(repeating: "0.5", count: 12).joined(separator: ",") + "]"
        let infer = "/v2/models/tabular/infer"
        let bad: [(String, String, String?, Int, String)] = [
            ("POST", infer, "{not json", 400, "not valid JSON"),
            ("POST", infer, "{\"inputs\": 3}", 400, "\"inputs\" must be a list of tensors"),
            ("POST", infer, "{\"inputs\": []}", 400, "must hold one tensor"),
            ("POST", infer, "{\"inputs\": [{\"name\": \"input\", \"shape\": [1, 12], \"datatype\": \"FP16\", \"data\": \(twelve)}]}",
             400, "datatype FP16 is not accepted"),
            ("POST", infer, "{\"inputs\": [{\"name\": \"input\", \"shape\": [1, 12], \"datatype\": \"FP32\", \"data\": [1, 2]}]}",
             400, "\"data\" holds 2 values; shape [1, 12] needs 12"),
            ("POST", infer, "{\"inputs\": [{\"name\": \"input\", \"shape\": [5, 12], \"datatype\": \"FP32\", \"data\": []}]}",
             400, "between 1 and 4 per request"),
            ("POST", infer, "{\"inputs\": [{\"name\": \"input\", \"shape\": [1, 12], \"datatype\": \"INT32\", \"data\": [0.5"
             + String(repeating: ",1", count: 11) + "]}]}", 400, "data[0] = 0.5 is not a INT32 value"),
            ("POST", infer, "{\"inputs\": [{\"name\": \"input\", \"shape\": [1, 12], \"datatype\": \"FP32\", "
             + "\"parameters\": {\"binary_data_size\": 48}}]}", 400, "only 0 bytes follow the JSON"),
            ("POST", infer, "{\"inputs\": [{\"name\": \"input\", \"shape\": [1, 12], \"datatype\": \"FP32\", \"data\": \(twelve)}], "
             + "\"outputs\": [{\"name\": \"logits\"}]}", 400, "the model has no output \"logits\""),
            ("POST", "/v2/models/other/infer", "{}", 404, "model 'other' is not served here"),
            ("GET", "/v2/models/tabular/versions/7", nil, 404, "has no version '7'"),
            ("GET", infer, nil, 405, "use POST"),
            ("POST", infer, String(repeating: " ", count: 9000), 413, "exceeds 8192 bytes"),
            ("POST", "/v1/completions", "{\"model\": \"tabular\", \"prompt\": \"x\"}", 400, "is a classifier"),
            ("POST", "/v1/completions", "[]", 400, "body must be a JSON object"),
            ("POST", "/v1/completions", "{\"model\": \"tabular\", \"prompt\": [1, 2]}", 400, "token-id and several prompts are not supported"),
            ("POST", "/v1/completions", "{\"model\": \"tabular\", \"prompt\": \"x\", \"stream_options\": {}}", 400,
             "only allowed with \"stream\": true"),
            ("GET", "/v1/models/other", nil, 404, "the model 'other' does not exist"),
        ]
        for (method, path, text, status, message) in bad {
            let reply = try httpExchange(server.port, method, path, body: text)
            XCTAssertEqual(reply.status, status, "\(method) \(path) \(text?.prefix(80) ?? ""): \(reply.body)")
            // Each protocol's error shape: OpenAI's an object with a message, the others a string.
            let error = (try? JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any])?["error"]
            let said = path.hasPrefix("/v1/") ? (error as? [String: Any])?["message"] as? String : error as? String
            XCTAssertTrue(said?.contains(message) ?? false, "\(path): \(reply.body) lacks \(message)")
        }
        // A binary body whose header length runs past its end.
        let raw = "POST \(infer) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nInference-Header-Content-Length: 999\r\n"
            + "Content-Length: 2\r\n\r\n{}"
        let overrun = try httpExchange(server.port, "", "", raw: raw)
        XCTAssertEqual(overrun.status, 400, overrun.body)
        XCTAssertTrue(overrun.body.contains("Inference-Header-Content-Length 999 is not a length within the 2-byte body"), overrun.body)

        let good = "{\"id\": \"ok\", \"inputs\": [{\"name\": \"input\", \"shape\": [2, 12], \"datatype\": \"FP64\", \"data\": [\(twelve), \(twelve)]}]}"
        let answer = try httpExchange(server.port, "POST", infer, body: good)
        XCTAssertEqual(answer.status, 200, answer.body)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])
        XCTAssertEqual(object["id"] as? String, "ok")
        let outputs = try XCTUnwrap(object["outputs"] as? [[String: Any]])
        XCTAssertEqual(outputs.map { $0["name"] as? String }, ["probabilities", "label"])
        XCTAssertEqual(outputs.first?["shape"] as? [Int], [2, 4])
        XCTAssertEqual(try httpExchange(server.port, "GET", "/v2/health/ready").status, 200)
        let metrics = try httpExchange(server.port, "GET", "/metrics").body
        XCTAssertTrue(metrics.contains("ddp_serve_requests_total{path=\"/v2/models/{model}/infer\",status=\"400\"}"), metrics)
    }

    /// A client that leaves in the middle of a stream ends its generation:
    /// the service's token count stops far short of what was asked.
    func testAStreamWhoseClientLeavesStopsGenerating() throws {
        let run = try trainRun(Self.gptConfig, name: "ids")
        let server = try ServeProcess(arguments: ["--checkpoint", run.path, "--max-tokens", "100000"])
        defer { _ = server.stop() }
        let body = "{\"model\": \"ids\", \"prompt\": \"1 2 3\", \"max_tokens\": 100000, \"stream\": true}"
        let fd = try connectToLoopback(server.port)
        let request = "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.utf8.count)\r\n\r\n" + body
        _ = Array(request.utf8).withUnsafeBytes { send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        var received = ""
        while !received.contains("data: {") {
            let n = recv(fd, &buffer, buffer.count, 0)
            XCTAssertGreaterThan(n, 0, "the stream ended before its first event")
            if n <= 0 { break }
            received += String(decoding: buffer.prefix(n), as: UTF8.self)
        }
        XCTAssertTrue(received.hasPrefix("HTTP/1.1 200"), received)
        XCTAssertTrue(received.contains("text/event-stream"), received)
        close(fd)
        // The generation ends once it notices, well before the tokens asked for.
        func metric(_ name: String) throws -> Int {
            let text = try httpExchange(server.port, "GET", "/metrics").body
            let line = try XCTUnwrap(text.split(separator: "\n").first { $0.hasPrefix(name + " ") }, name)
            return try XCTUnwrap(Int(line.split(separator: " ")[1]))
        }
        for _ in 0..<300 where try metric("ddp_serve_generations_in_flight") > 0 { usleep(100_000) }
        XCTAssertEqual(try metric("ddp_serve_generations_in_flight"), 0, "the generation never ended")
        let now = try metric("ddp_serve_generated_tokens_total")
        XCTAssertGreaterThan(now, 0)
        XCTAssertLessThan(now, 100_000)
    }
}
