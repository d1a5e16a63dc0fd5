import Foundation
import Hummingbird
import Inference
import NIOCore

/// OpenAI's completions protocol for a language model: what the official
/// clients and the tools built on them send.
extension PredictionService {
    func addOpenAIRoutes(to router: Router<BasicRequestContext>) {
        router.get("/v1/models") { _, _ in
            self.json(.ok, ["object": "list", "data": [self.modelObject]])
        }
        router.get("/v1/models/{model}") { request, context in
            let name = context.parameters.get("model") ?? ""
            guard name == self.modelName else { return self.modelNotFound(name) }
            return self.json(.ok, self.modelObject)
        }
        router.post("/v1/completions") { request, _ in
            await self.completions(request)
        }
    }

    private var modelObject: [String: Any] {
        ["id": modelName, "object": "model", "created": started, "owned_by": "ddp"]
    }

    private func completions(_ request: Request) async -> Response {
        let body: Data
        switch await self.body(of: request) {
        case .success(let data): body = data
        case .failure(let problem): return openAIError(problem.status, problem.message)
        }
        let parsed: OpenAICompletionRequest
        do {
            parsed = try completionParser.parse(body)
        } catch let problem as RequestProblem {
            return openAIError(.badRequest, problem.message, param: problem.field)
        } catch {
            return openAIError(.badRequest, "\(error)")
        }
        guard parsed.model == modelName else { return modelNotFound(parsed.model) }
        guard engine.checkpoint.languageModel != nil else {
            return openAIError(.badRequest, "model '\(modelName)' is a classifier: use POST /v2/models/\(modelName)/infer or /v1/predict",
                               param: "model")
        }
        let id = "cmpl-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        return parsed.stream ? await streamedCompletion(parsed, id: id) : await wholeCompletion(parsed, id: id)
    }

    private func wholeCompletion(_ parsed: OpenAICompletionRequest, id: String) async -> Response {
        let completion: Completion
        metrics.generationStarted()
        do {
            completion = try await engine.run { try $0.complete(parsed.completion) }
        } catch {
            metrics.generationEnded(tokens: 0)
            return inferenceFailure(error)
        }
        metrics.generationEnded(tokens: completion.tokens.count)
        let text = (parsed.echo ? parsed.completion.prompt : "") + completion.text
        var object = completionChunk(id: id, text: text, finishReason: completion.finishReason.rawValue)
        object["usage"] = usage(completion)
        return json(.ok, object)
    }

    /// Server-sent events: a chunk per piece of text, one with the finish
    /// reason, token counts if asked, then `data: [DONE]`. The request is
    /// checked before the stream starts, so bad input still gets a 400.
    private func streamedCompletion(_ parsed: OpenAICompletionRequest, id: String) async -> Response {
        do {
            try await engine.run { try $0.validate(parsed.completion) }
        } catch {
            return inferenceFailure(error)
        }
        let (events, sink) = AsyncStream<ByteBuffer>.makeStream()
        let listening = ListeningFlag()
        sink.onTermination = { _ in listening.stop() }
        @Sendable func send(_ object: [String: Any]) { sink.yield(ByteBuffer(string: "data: " + Self.jsonText(object) + "\n\n")) }
        if parsed.echo { send(completionChunk(id: id, text: parsed.completion.prompt, finishReason: nil)) }
        let engine = self.engine, metrics = self.metrics
        metrics.generationStarted()
        Task {
            var tokens = 0
            defer { metrics.generationEnded(tokens: tokens) }
            do {
                let completion = try await engine.run { session in
                    try session.complete(parsed.completion) { piece in
                        send(self.completionChunk(id: id, text: piece, finishReason: nil))
                        return listening.isListening
                    }
                }
                tokens = completion.tokens.count
                send(completionChunk(id: id, text: "", finishReason: completion.finishReason.rawValue))
                if parsed.streamUsage {
                    var last = completionChunk(id: id, text: "", finishReason: nil)
                    last["choices"] = [Any]()
                    last["usage"] = usage(completion)
                    send(last)
                }
            } catch {
                send(["error": ["message": "\(error)", "type": "server_error", "param": NSNull(), "code": NSNull()]])
            }
            sink.yield(ByteBuffer(string: "data: [DONE]\n\n"))
            sink.finish()
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: ResponseBody(asyncSequence: events))
    }

    private func completionChunk(id: String, text: String, finishReason: String?) -> [String: Any] {
        ["id": id, "object": "text_completion", "created": Int(Date().timeIntervalSince1970), "model": modelName,
         "choices": [["index": 0, "text": text, "logprobs": NSNull(), "finish_reason": finishReason ?? NSNull()] as [String: Any]]]
    }

    private func usage(_ completion: Completion) -> [String: Int] {
        ["prompt_tokens": completion.promptTokens, "completion_tokens": completion.tokens.count,
         "total_tokens": completion.promptTokens + completion.tokens.count]
    }

    private func inferenceFailure(_ error: Error) -> Response {
        if let error = error as? InferenceError {
            let param: String? = if case .invalidInput(let source, _) = error { source == "prompt" ? "prompt" : nil } else { nil }
            return openAIError(.badRequest, error.description, param: param)
        }
        return openAIError(.internalServerError, "inference failed: \(error)", type: "server_error")
    }

    private func modelNotFound(_ name: String) -> Response {
        openAIError(.notFound, "the model '\(name)' does not exist; this service serves '\(modelName)'",
                    param: "model", code: "model_not_found")
    }

    /// OpenAI's error shape: `{"error": {"message", "type", "param", "code"}}`.
    func openAIError(_ status: HTTPResponse.Status, _ message: String, type: String = "invalid_request_error",
                     param: String? = nil, code: String? = nil) -> Response {
        json(status, ["error": ["message": message, "type": type, "param": param ?? NSNull(), "code": code ?? NSNull()] as [String: Any]])
    }

    static func jsonText(_ object: [String: Any]) -> String {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            .map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

/// Whether a streaming client is still there: set off the stream's
/// termination, read on the inference queue between tokens.
final class ListeningFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var listening = true

    var isListening: Bool {
        lock.lock()
        defer { lock.unlock() }
        return listening
    }

    func stop() {
        lock.lock()
        listening = false
        lock.unlock()
    }
}
