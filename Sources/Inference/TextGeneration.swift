import DataPipeline
import NeuralNet

/// Text continued by a checkpoint's language model.
public struct GeneratedText: Equatable, Sendable, Codable {
    /// The prompt as given.
    public var prompt: String
    /// The generated continuation (without the prompt).
    public var text: String
    /// Its token ids.
    public var tokens: [Int]
}

extension InferenceSession {
    /// Continues `prompt` with the language model.
    ///
    /// A model trained on a character corpus takes text; one trained on
    /// synthetic tokens (no vocabulary) takes token ids separated by spaces
    /// or commas, and its output is ids as well.
    ///
    /// - Parameters:
    ///   - prompt: At least one character (or token id).
    ///   - count: Tokens to generate, 0 or more.
    ///   - temperature: 0 takes the most likely token each time.
    ///   - topK: Samples among the `topK` most likely tokens; `nil` for all.
    ///   - seed: Fixes the draws.
    /// - Throws: ``InferenceError`` for a classifier, an empty prompt, a
    ///   character outside the vocabulary, or bad numbers.
    public func generate(prompt: String, count: Int, temperature: Double, topK: Int?, seed: UInt64,
                         cached: Bool = true) throws -> GeneratedText {
        let completion = try complete(CompletionRequest(prompt: prompt, maxTokens: count, temperature: temperature, topK: topK,
                                                        seed: seed, cached: cached))
        return GeneratedText(prompt: prompt, text: completion.text, tokens: completion.tokens)
    }

    /// The language model and the prompt's token ids, once the request's numbers are checked.
    func prepare(_ request: CompletionRequest) throws -> (GPT, [Int], TokenSampling) {
        guard let gpt = languageModel, case .languageModel(let vocabularySize, _) = task else {
            throw InferenceError.unsupported("\(directory.path): the model is a classifier; it cannot generate text")
        }
        guard !request.prompt.isEmpty else { throw InferenceError.invalidInput(source: "prompt", reason: "the prompt is empty") }
        guard request.maxTokens >= 0 && request.maxTokens <= 100_000 else {
            throw InferenceError.invalidInput(source: "tokens", reason: "\(request.maxTokens) is not in 0...100000")
        }
        let temperature = request.temperature
        guard temperature.isFinite && temperature >= 0 && temperature <= 100 else {
            throw InferenceError.invalidInput(source: "temperature", reason: "\(temperature) is not in 0...100")
        }
        if let topK = request.topK, topK < 1 {
            throw InferenceError.invalidInput(source: "top-k", reason: "\(topK) must be at least 1")
        }
        guard request.topP.isFinite && request.topP > 0 && request.topP <= 1 else {
            throw InferenceError.invalidInput(source: "top-p", reason: "\(request.topP) is not in (0, 1]")
        }
        let ids = try encode(request.prompt, vocabularySize: vocabularySize)
        return (gpt, ids, TokenSampling(temperature: Float(temperature), topK: request.topK, topP: Float(request.topP)))
    }

    /// The text of generated token ids: the tokenizer's, or the ids themselves for a model without one.
    func text(of tokens: [Int]) -> String {
        tokenizer.map { $0.decode(tokens.map { Int32($0) }) } ?? tokens.map(String.init).joined(separator: " ")
    }

    func encode(_ prompt: String, vocabularySize: Int) throws -> [Int] {
        if let tokenizer, vocabulary == nil {
            do {
                return try tokenizer.encode(prompt, file: "prompt").map(Int.init)
            } catch let error as DataError {
                throw InferenceError.invalidInput(source: "prompt", reason: "\(error)")
            }
        }
        if let vocabulary {
            do {
                return try vocabulary.encode(prompt, file: "prompt").map(Int.init)
            } catch DataError.unknownCharacter(_, let character, let offset) {
                let shown = character.unicodeScalars.first.map { $0.escaped(asASCII: true) } ?? character
                throw InferenceError.invalidInput(
                    source: "prompt",
                    reason: "character '\(shown)' at offset \(offset) is not in the model's vocabulary of \(vocabulary.count) characters")
            }
        }
        let parts = prompt.split { $0 == " " || $0 == "," }
        var ids: [Int] = []
        for part in parts {
            guard let id = Int(part), id >= 0, id < vocabularySize else {
                throw InferenceError.invalidInput(
                    source: "prompt", reason: "'\(part)' is not a token id in 0..<\(vocabularySize) (this model has no character vocabulary)")
            }
            ids.append(id)
        }
        guard !ids.isEmpty else { throw InferenceError.invalidInput(source: "prompt", reason: "the prompt holds no token ids") }
        return ids
    }
}
