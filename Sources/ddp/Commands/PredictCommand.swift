import ArgumentParser
import Foundation
import Inference
import Training

/// `ddp predict`: classify images, or continue a prompt, with a checkpoint.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Classify images (IDX, PGM or PNG) or generate text with a checkpoint.",
        discussion: """
            Classifier:      ddp predict --checkpoint runs/mnist-mlp --input digit.png --top-k 3
            Language model:  ddp predict --checkpoint runs/shakespeare-gpt --prompt "ROMEO:" --tokens 200
            Images are 8-bit grayscale pixel values as in the training data (MNIST: white digit on black);
            the checkpoint's recorded preprocessing is applied.
            """
    )

    @Option(name: .long, help: "A checkpoint directory, or a run directory (its newest valid checkpoint).")
    var checkpoint: String

    @Option(name: .long, help: "Images to classify: an IDX file of many, or one PGM or PNG image.")
    var input: String?

    @Option(name: .long, help: "Text for the language model to continue.")
    var prompt: String?

    @Option(name: .long, help: "Tokens to generate.")
    var tokens: Int = 100

    @Option(name: .long, help: "Sampling temperature; 0 always takes the most likely token.")
    var temperature: Double = 0.8

    @Option(name: .customLong("top-k"), help: "Classes to list per image, or tokens to sample among (default: 3 classes, all tokens).")
    var topK: Int?

    @Option(name: .long, help: "Seed of the sampling draws.")
    var seed: UInt64 = 0

    @Flag(name: .customLong("no-cache"), help: "Generate without the key-value cache (the same tokens, each costing a pass over its window).")
    var noCache = false

    @Option(name: .long, help: "List at most this many images of an IDX file.")
    var limit: Int = 20

    @Option(name: .customLong("data-dir"), help: "Where the data sets are (only for checkpoints without recorded preprocessing).")
    var dataDirectory: String?

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    func validate() throws {
        if (input == nil) == (prompt == nil) { throw ValidationError("give either --input (a classifier) or --prompt (a language model)") }
        if let topK, topK < 1 { throw ValidationError("--top-k must be at least 1") }
        if limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() throws {
        try exitOnUserError {
            let model = try InferenceSession(path: checkpoint, dataDirectory: dataDirectory)
            if let prompt {
                let result = try model.generate(prompt: prompt, count: tokens, temperature: temperature, topK: topK, seed: seed,
                                                cached: !noCache)
                if json {
                    printJSON(["checkpoint": model.directory.path, "prompt": result.prompt, "text": result.text,
                               "tokens": result.tokens])
                } else {
                    print(result.prompt + result.text)
                }
                return
            }
            guard model.classCount > 0 else {
                throw InferenceError.unsupported("\(model.directory.path): a language model: pass --prompt, not --input")
            }
            let images = try ImageBatch.read(path: input!)
            let expected = model.sampleShape
            guard expected.count == 3 else {
                throw InferenceError.unsupported("\(model.directory.path): the model takes \(expected[0]) features, not images; "
                                                 + "send them to `ddp serve` as {\"inputs\": [[...]]}")
            }
            guard images.rows == expected[1] && images.columns == expected[2] else {
                throw InferenceError.invalidInput(
                    source: input!, reason: "images are \(images.columns)x\(images.rows) pixels; the model takes "
                        + "\(expected[2])x\(expected[1]) grayscale")
            }
            let k = topK ?? 3
            let shown = min(images.count, limit)
            let scores = model.classify(Array(images.pixels[0..<(shown * model.sampleSize)]), rows: shown, topK: k)
            if json {
                printJSON(["checkpoint": model.directory.path, "input": input!, "images": images.count,
                           "predictions": scores.map { $0.map { ["label": $0.label, "probability": $0.probability] } }])
                return
            }
            print("checkpoint: \(model.directory.path) (step \(model.state.step))")
            for (index, top) in scores.enumerated() {
                let list = top.map { "\($0.label) (\(String(format: "%.4f", $0.probability)))" }.joined(separator: ", ")
                print(images.count == 1 ? "prediction: \(list)" : "image \(index): \(list)")
            }
            if images.count > shown { print("(\(images.count - shown) more images not listed; raise --limit)") }
        }
    }

    private func printJSON(_ object: [String: Any]) {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        print(String(decoding: data, as: UTF8.self))
    }
}
