import Foundation
import Inference

/// A `POST /v1/completions` body in OpenAI's shape, checked field by field.
struct OpenAICompletionRequest {
    /// The model the client named; the service serves one.
    var model: String
    var completion: CompletionRequest
    /// Whether the answer streams as server-sent events.
    var stream: Bool
    /// Whether the stream ends with a chunk of token counts (`stream_options.include_usage`).
    var streamUsage: Bool
    /// Whether the prompt is repeated in front of the completion.
    var echo: Bool
    /// Whether the client named a seed; without one each request draws its own.
    var seeded: Bool
}

/// Reads `POST /v1/completions` bodies. What the protocol defines and a
/// character model cannot do (several choices, log probabilities,
/// penalties) is refused by name rather than silently ignored.
struct OpenAICompletionParser {
    /// Tokens one request may ask for, at most.
    let maxTokens: Int

    /// The fields read, with OpenAI's defaults; `top_k` is the extension other servers accept too.
    static let fields: Set<String> = [
        "model", "prompt", "max_tokens", "temperature", "top_p", "top_k", "seed", "stop", "stream", "stream_options",
        "echo", "n", "best_of", "logprobs", "presence_penalty", "frequency_penalty", "logit_bias", "suffix", "user",
    ]

    func parse(_ body: Data) throws -> OpenAICompletionRequest {
        let object = try JSONFields(body: body)
        try object.rejectUnknownKeys(allowed: Self.fields)
        guard let model = try object.string("model") else { throw RequestProblem("\"model\" is required", field: "model") }
        let prompt = try self.prompt(object)
        let maxTokens = try object.integer("max_tokens", in: 0...self.maxTokens) ?? min(16, self.maxTokens)
        let temperature = try object.number("temperature", in: 0...2) ?? 1
        let topP = try object.number("top_p", in: 0...1) ?? 1
        guard topP > 0 else { throw RequestProblem("\"top_p\" must be above 0", field: "top_p") }
        let topK = try object.integer("top_k", in: -1...Int(Int32.max))
        guard topK != 0 else { throw RequestProblem("\"top_k\" must be at least 1, or -1 for all tokens", field: "top_k") }
        let seed = try object.integer("seed", in: Int(Int64.min)...Int(Int64.max))
        let stop = try self.stop(object)
        let stream = try object.bool("stream") ?? false
        var streamUsage = false
        if let options = object["stream_options"] {
            guard let fields = options as? [String: Any] else {
                throw RequestProblem("\"stream_options\" must be an object", field: "stream_options")
            }
            guard stream else { throw RequestProblem("\"stream_options\" is only allowed with \"stream\": true", field: "stream_options") }
            let inner = JSONFields(fields)
            try inner.rejectUnknownKeys(allowed: ["include_usage"])
            streamUsage = try inner.bool("include_usage") ?? false
        }
        for (key, only) in [("n", 1), ("best_of", 1)] {
            if let value = try object.integer(key, in: Int.min...Int.max), value != only {
                throw RequestProblem("\"\(key)\" = \(value) is not supported: this service returns one choice", field: key)
            }
        }
        for key in ["presence_penalty", "frequency_penalty"] {
            if let value = try object.number(key, in: -2...2), value != 0 {
                throw RequestProblem("\"\(key)\" is not supported; leave it out or 0", field: key)
            }
        }
        if object["logprobs"] != nil { throw RequestProblem("\"logprobs\" is not supported", field: "logprobs") }
        if object["suffix"] != nil { throw RequestProblem("\"suffix\" is not supported", field: "suffix") }
        if let bias = object["logit_bias"], !((bias as? [String: Any])?.isEmpty ?? false) {
            throw RequestProblem("\"logit_bias\" is not supported", field: "logit_bias")
        }
        _ = try object.string("user")
        let completion = CompletionRequest(
            prompt: prompt, maxTokens: maxTokens, temperature: temperature, topK: topK == -1 ? nil : topK, topP: topP,
            seed: seed.map { UInt64(bitPattern: Int64($0)) } ?? UInt64.random(in: 0...UInt64.max), stop: stop)
        return OpenAICompletionRequest(model: model, completion: completion, stream: stream, streamUsage: streamUsage,
                                       echo: try object.bool("echo") ?? false, seeded: seed != nil)
    }

    /// A string, or a list holding one string.
    private func prompt(_ object: JSONFields) throws -> String {
        guard let field = object["prompt"] else { throw RequestProblem("\"prompt\" is required", field: "prompt") }
        if let text = field as? String {
            guard !text.isEmpty else { throw RequestProblem("\"prompt\" is empty", field: "prompt") }
            return text
        }
        if let list = field as? [Any], list.count == 1, let text = list[0] as? String, !text.isEmpty { return text }
        throw RequestProblem("\"prompt\" must be a non-empty string (or a list of one); token-id and several prompts are not supported",
                             field: "prompt")
    }

    /// A string, or a list of at most four.
    private func stop(_ object: JSONFields) throws -> [String] {
        guard let field = object["stop"] else { return [] }
        if let one = field as? String { return [one] }
        guard let list = field as? [Any], list.count <= 4, let stops = list as? [String] else {
            throw RequestProblem("\"stop\" must be a string or a list of at most 4 strings", field: "stop")
        }
        return stops
    }
}
