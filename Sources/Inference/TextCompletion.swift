import NeuralNet

/// What a text completion asks of a language model.
public struct CompletionRequest: Equatable, Sendable {
    /// The text to continue; at least one character (or token id).
    public var prompt: String
    /// Tokens to generate, at most.
    public var maxTokens: Int
    /// Divides the logits; 0 takes the most likely token each time.
    public var temperature: Double
    /// Draws among the `topK` most likely tokens; `nil` for all.
    public var topK: Int?
    /// Draws among the most likely tokens holding `topP` of the probability; 1 for all.
    public var topP: Double
    /// Fixes the draws.
    public var seed: UInt64
    /// Generation ends where the text first contains one of these, which is
    /// left out of the completion.
    public var stop: [String]
    /// Whether the model keeps the keys and values of past positions (the
    /// same tokens, far less work per token).
    public var cached: Bool

    public init(prompt: String, maxTokens: Int, temperature: Double = 1, topK: Int? = nil, topP: Double = 1,
                seed: UInt64 = 0, stop: [String] = [], cached: Bool = true) {
        (self.prompt, self.maxTokens, self.temperature, self.topK) = (prompt, maxTokens, temperature, topK)
        (self.topP, self.seed, self.stop, self.cached) = (topP, seed, stop.filter { !$0.isEmpty }, cached)
    }
}

/// A finished completion.
public struct Completion: Equatable, Sendable {
    /// Why generation ended.
    public enum FinishReason: String, Sendable {
        /// `maxTokens` were generated.
        case length
        /// A stop sequence appeared, or the caller stopped listening.
        case stop
    }

    /// The generated text, without the prompt and without the stop sequence.
    public var text: String
    /// Every generated token, including those of a stop sequence.
    public var tokens: [Int]
    /// Tokens of the prompt as the model read it.
    public var promptTokens: Int
    public var finishReason: FinishReason
}

extension InferenceSession {
    /// Continues a prompt, handing out the text as it grows.
    ///
    /// Text that could be the start of a stop sequence is held back until
    /// the next tokens tell, so the pieces given to `onText` always add up
    /// to ``Completion/text``: what a client streams equals what it would
    /// have been answered at once.
    ///
    /// - Parameters:
    ///   - request: Prompt, length, sampling, seed and stop sequences.
    ///   - onText: Called with each new piece of text; returning `false`
    ///     ends the generation (the listener has gone).
    /// - Throws: ``InferenceError`` for a classifier, an empty prompt, a
    ///   character outside the vocabulary, or numbers out of range.
    public func complete(_ request: CompletionRequest, onText: (String) -> Bool = { _ in true }) throws -> Completion {
        let (gpt, ids, sampling) = try prepare(request)
        var handedOut = ""
        var finished: String?
        var listening = true
        var generated: [Int] = []
        let tokens = gpt.generate(prompt: ids, count: request.maxTokens, sampling: sampling, seed: request.seed,
                                  cached: request.cached) { token in
            generated.append(token)
            let text = self.text(of: generated)
            if let cut = Self.firstStop(in: text, stops: request.stop) {
                finished = String(text[..<cut])
            }
            let ready = finished ?? String(text.dropLast(Self.heldBack(text, stops: request.stop)))
            // A tokenizer may respell earlier text as tokens join; hand out only growth.
            if ready.hasPrefix(handedOut) && ready.count > handedOut.count {
                listening = onText(String(ready.dropFirst(handedOut.count)))
                handedOut = ready
            }
            return finished == nil && listening
        }
        let text = finished ?? self.text(of: tokens)
        if finished == nil && listening && text.hasPrefix(handedOut) && text.count > handedOut.count {
            _ = onText(String(text.dropFirst(handedOut.count)))
        }
        let reason: Completion.FinishReason = finished != nil || !listening || tokens.count < request.maxTokens ? .stop : .length
        return Completion(text: text, tokens: tokens, promptTokens: ids.count, finishReason: reason)
    }

    /// Where the first stop sequence starts in `text`, if one occurs.
    static func firstStop(in text: String, stops: [String]) -> String.Index? {
        stops.compactMap { text.range(of: $0)?.lowerBound }.min()
    }

    /// How many characters at the end of `text` could begin a stop sequence.
    static func heldBack(_ text: String, stops: [String]) -> Int {
        var longest = 0
        for stop in stops {
            for length in stride(from: min(stop.count - 1, text.count), to: longest, by: -1)
            where text.hasSuffix(stop.prefix(length)) {
                longest = length
                break
            }
        }
        return longest
    }
}

extension InferenceSession {
    /// Checks a completion request the way ``complete(_:onText:)`` would,
    /// without generating: for answers that must know before they start.
    ///
    /// - Throws: ``InferenceError``, as ``complete(_:onText:)``.
    public func validate(_ request: CompletionRequest) throws {
        _ = try prepare(request)
    }
}
