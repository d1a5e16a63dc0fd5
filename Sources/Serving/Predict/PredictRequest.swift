import Foundation

/// A `POST /v1/predict` body, validated against the loaded model.
enum PredictRequest: Equatable {
    /// Classify `rows` samples of raw values (as in the training data: pixels 0...255 for MNIST).
    case classify(values: [Float], rows: Int, topK: Int)
    /// Continue a prompt with the language model.
    case generate(prompt: String, tokens: Int, temperature: Double, topK: Int?, seed: UInt64)
}

/// Checks of `POST /v1/predict` bodies: every way a body can be wrong gets
/// a message saying which field and why, never a crash.
struct PredictRequestParser {
    /// Samples per classification request, at most.
    let maxBatch: Int
    /// Tokens one generation request may ask for, at most.
    let maxTokens: Int
    /// Raw values per sample, and the sample's shape (`[1, 28, 28]` for MNIST).
    let sampleShape: [Int]
    /// Classes of a classifier; 0 for a language model.
    let classes: Int
    /// Largest magnitude accepted for an input value: beyond it a model's
    /// logits can overflow to infinity, which JSON cannot carry back.
    static let largestValue: Double = 1e6

    var sampleSize: Int { sampleShape.reduce(1, *) }

    func parse(_ body: Data) throws -> PredictRequest {
        if classes > 0, let request = scannedClassification(body) { return request }
        return try parseGeneral(body)
    }

    /// ``parse(_:)`` through `JSONSerialization` alone (the fuzz target checks the two agree).
    func parseGeneral(_ body: Data) throws -> PredictRequest {
        let fields = try JSONFields(body: body)
        return classes > 0 ? try parseClassification(fields) : try parseGeneration(fields)
    }

    private func parseClassification(_ object: JSONFields) throws -> PredictRequest {
        try object.rejectUnknownKeys(allowed: ["inputs", "image", "top_k"])
        let topK = try object.integer("top_k", in: 1...classes) ?? min(3, classes)
        switch (object["inputs"], object["image"]) {
        case (nil, nil):
            throw RequestProblem("give \"inputs\" (a list of samples of \(sampleSize) numbers) or \"image\" (\(imageDescription))")
        case (.some, .some):
            throw RequestProblem("give either \"inputs\" or \"image\", not both")
        case (let inputs?, nil):
            guard let list = inputs as? [Any] else { throw RequestProblem("\"inputs\" must be a list of samples") }
            guard !list.isEmpty else { throw RequestProblem("\"inputs\" is empty") }
            guard list.count <= maxBatch else {
                throw RequestProblem("\"inputs\" holds \(list.count) samples; at most \(maxBatch) per request")
            }
            var values: [Float] = []
            values.reserveCapacity(list.count * sampleSize)
            for (i, sample) in list.enumerated() {
                guard let numbers = sample as? [Any] else {
                    throw RequestProblem("inputs[\(i)] must be a list of \(sampleSize) numbers")
                }
                guard numbers.count == sampleSize else {
                    throw RequestProblem("inputs[\(i)] has \(numbers.count) values; the model takes \(sampleSize)")
                }
                for (j, number) in numbers.enumerated() { values.append(try value(number) { "inputs[\(i)][\(j)]" }) }
            }
            return .classify(values: values, rows: list.count, topK: topK)
        case (nil, let image?):
            guard sampleShape.count == 3 else {
                throw RequestProblem("this model takes \(sampleSize) features, not images: use \"inputs\"")
            }
            let (rows, columns) = (sampleShape[1], sampleShape[2])
            guard let lines = image as? [Any], lines.count == rows else {
                throw RequestProblem("\"image\" must be a list of \(rows) rows of \(columns) pixel values")
            }
            var values: [Float] = []
            values.reserveCapacity(rows * columns)
            for (r, line) in lines.enumerated() {
                guard let pixels = line as? [Any], pixels.count == columns else {
                    throw RequestProblem("image[\(r)] must be a list of \(columns) pixel values")
                }
                for (c, pixel) in pixels.enumerated() { values.append(try value(pixel) { "image[\(r)][\(c)]" }) }
            }
            return .classify(values: values, rows: 1, topK: topK)
        }
    }

    /// The body read by ``NumericBodyScanner`` when it has that shape and
    /// passes every check of ``parseClassification(_:)``; nil sends it there,
    /// which then says what is wrong.
    private func scannedClassification(_ body: Data) -> PredictRequest? {
        guard let (values, rows, topK) = NumericBodyScanner.scan(body), !rows.isEmpty, rows.count <= maxBatch,
              rows.allSatisfy({ $0 == sampleSize }),
              values.allSatisfy({ $0.isFinite && abs($0) <= Self.largestValue }) else { return nil }
        let k = topK ?? min(3, classes)
        guard (1...classes).contains(k) else { return nil }
        return .classify(values: values.map { Float($0) }, rows: rows.count, topK: k)
    }

    private func parseGeneration(_ object: JSONFields) throws -> PredictRequest {
        try object.rejectUnknownKeys(allowed: ["prompt", "tokens", "temperature", "top_k", "seed"])
        guard let field = object["prompt"] else { throw RequestProblem("give \"prompt\": the text to continue") }
        guard let prompt = field as? String else { throw RequestProblem("\"prompt\" must be a string") }
        guard !prompt.isEmpty else { throw RequestProblem("\"prompt\" is empty") }
        let tokens = try object.integer("tokens", in: 0...maxTokens) ?? min(100, maxTokens)
        let temperature = try object.number("temperature", in: 0...100) ?? 0.8
        let topK = try object.integer("top_k", in: 1...Int(Int32.max))
        let seed = try object.integer("seed", in: 0...Int.max) ?? 0
        return .generate(prompt: prompt, tokens: tokens, temperature: temperature, topK: topK, seed: UInt64(seed))
    }

    private var imageDescription: String {
        sampleShape.count == 3 ? "\(sampleShape[1]) rows of \(sampleShape[2]) pixel values" : "not accepted by this model"
    }

    /// One input value; `path` names it in an error (built only then: a
    /// string per value cost more than the value).
    private func value(_ any: Any, at path: () -> String) throws -> Float {
        guard let x = JSONFields.number(any) else { throw RequestProblem("\(path()) is not a number") }
        guard x.isFinite && abs(x) <= Self.largestValue else {
            throw RequestProblem("\(path()) = \(x) is outside ±\(Int(Self.largestValue))")
        }
        return Float(x)
    }
}
