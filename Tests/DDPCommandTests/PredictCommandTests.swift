@testable import Checkpoint
import DDPTestSupport
import Foundation
@testable import Inference
import MPIRunSupport
@testable import RunConfig
import TensorCore
import XCTest

/// Image decoding and `ddp predict`: images from IDX, PGM and PNG files give
/// the same predictions as the model on the preprocessed test split, bad
/// input is refused with a clear message, and a language model continues prompts.
final class PredictCommandTests: InferenceTestCase {
    // MARK: - Decoding

    /// A 5x3 gradient, distinct in every pixel.
    private let pixels: [UInt8] = (0..<15).map { UInt8($0 * 17) }

    /// Found by `launch/fuzz.sh idx` and `png`: a file too short for its
    /// magic, and 32-bit sizes whose product overflows, were crashes.
    func testHostileImageHeadersAreErrorsNotCrashes() {
        let huge: [UInt8] = [0xff, 0xff, 0xff, 0xff]
        let cases: [(String, () throws -> ImageBatch)] = [
            ("empty IDX", { try ImageBatch.decodeIDX([], source: "e.idx") }),
            ("3-byte IDX", { try ImageBatch.decodeIDX([0, 0, 8], source: "s.idx") }),
            ("IDX of 9 dimensions", { try ImageBatch.decodeIDX([0, 0, 8, 9] + [UInt8](repeating: 1, count: 36), source: "d.idx") }),
            ("IDX of 2^32-1 cubed", { try ImageBatch.decodeIDX([0, 0, 8, 3] + huge + huge + huge, source: "h.idx") }),
            ("PNG of 2^32-1 squared", {
                try PNGDecoder.decode([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13] + Array("IHDR".utf8)
                                      + huge + huge + [8, 0, 0, 0, 0, 0, 0, 0, 0], source: "h.png")
            }),
            ("PGM of 2^40 columns", { try ImageBatch.decodePGM(Array("P5\n1099511627776 2\n255\n".utf8), source: "h.pgm") }),
        ]
        for (name, decode) in cases {
            XCTAssertThrowsError(try decode(), name) { error in
                XCTAssertTrue(error is InferenceError, "\(name): \(error)")
            }
        }
    }

    func testPGMBinaryAndPlainDecodeToTheSamePixels() throws {
        let binary = Array("P5\n# a comment\n5 3\n255\n".utf8) + pixels
        let plain = Array(("P2 5 3 255\n" + pixels.map(String.init).joined(separator: " ") + "\n").utf8)
        for bytes in [binary, plain] {
            let image = try ImageBatch.decodePGM(bytes, source: "test.pgm")
            XCTAssertEqual(image.rows, 3)
            XCTAssertEqual(image.columns, 5)
            XCTAssertEqual(image.pixels, pixels.map(Float.init))
        }
        // A 16-bit PGM is rescaled to 0...255.
        let wide = Array("P5 2 1 1023\n".utf8) + [0x03, 0xFF, 0x00, 0x00]
        XCTAssertEqual(try ImageBatch.decodePGM(wide, source: "wide.pgm").pixels, [255, 0])
        XCTAssertThrowsError(try ImageBatch.decodePGM(Array("P5 5 3 255\n".utf8) + pixels.prefix(10), source: "short.pgm")) {
            XCTAssertTrue("\($0)".contains("truncated"), "\($0)")
        }
    }

    func testPNGWithEveryFilterTypeAndColorModelDecodes() throws {
        // Rows use filters None, Sub, Up (and Average, Paeth on the RGB image).
        let gray = pngFile(width: 5, height: 3, channels: 1, pixels: pixels, filters: [0, 1, 2])
        let decoded = try PNGDecoder.decode(gray, source: "gray.png")
        XCTAssertEqual(decoded.pixels, pixels.map(Float.init))
        XCTAssertEqual([decoded.rows, decoded.columns], [3, 5])

        // RGB with equal channels reduces to the same gray values.
        let rgb = pixels.flatMap { [$0, $0, $0] }
        let color = pngFile(width: 5, height: 3, channels: 3, pixels: rgb, filters: [3, 4, 1])
        let decodedColor = try PNGDecoder.decode(color, source: "rgb.png")
        for (a, b) in zip(decodedColor.pixels, pixels.map(Float.init)) { XCTAssertEqual(a, b, accuracy: 0.01) }

        var interlaced = gray
        interlaced[8 + 8 + 12] = 1  // IHDR's interlace byte
        XCTAssertThrowsError(try PNGDecoder.decode(interlaced, source: "i.png")) {
            XCTAssertTrue("\($0)".contains("interlaced"), "\($0)")
        }
        XCTAssertThrowsError(try PNGDecoder.decode(Array(gray.prefix(40)), source: "cut.png"))
    }

    func testTopClassesAreSortedProbabilities() {
        let logits: [Float] = [1, 3, 2, 3]
        let top = logits.withUnsafeBufferPointer { topClasses(logits: $0.baseAddress!, count: 4, k: 3) }
        XCTAssertEqual(top.map(\.label), [1, 3, 2])
        let total = logits.reduce(0.0) { $0 + exp(Double($1)) }
        // Float softmax (the one kernel every model uses): a few ulp of Float.
        XCTAssertEqual(top[0].probability, exp(3) / total, accuracy: 1e-6)
        XCTAssertEqual(top[0].probability, top[1].probability)
    }

    // MARK: - ddp predict

    func testPredictOnMNISTImagesMatchesTheModelOnTheTestSplit() throws {
        let data = try requireMNIST()
        let yaml = Self.mnistMLPConfig(data: data, steps: 60, logEvery: 30, evalBatches: 5)
        let run = try trainRun(yaml, name: "mnist")
        let session = try InferenceSession(path: run.path)
        XCTAssertEqual(session.sampleShape, [1, 28, 28])
        XCTAssertEqual(session.classCount, 10)
        // The statistics come from the checkpoint, not from reloading the data.
        XCTAssertEqual(session.state.inputPreprocessing?.isEmpty, false)

        // Expected: the model on the test split as training preprocessed it.
        let splits = try RunComponents.loadData(session.config)
        let count = 8
        let inputs = Tensor(zeros: [count, 784]), targets = Tensor(zeros: [count])
        for i in 0..<count { splits.validation.copySample(i, input: inputs.pointer + i * 784, target: targets.pointer + i) }
        let logits = session.model.logits(inputs)
        let expected = (0..<count).map { topClasses(logits: logits.pointer + $0 * 10, count: 10, k: 3) }

        // The first 8 test images as an IDX file.
        let source = try Data(contentsOf: URL(fileURLWithPath: data + "/mnist/t10k-images-idx3-ubyte"))
        var idx = Data([0, 0, 8, 3, 0, 0, 0, UInt8(count), 0, 0, 0, 28, 0, 0, 0, 28])
        idx.append(source[16..<(16 + count * 784)])
        let idxPath = scratch.appendingPathComponent("eight.idx").path
        try idx.write(to: URL(fileURLWithPath: idxPath))
        let batch = try ddp(["predict", "--checkpoint", run.path, "--input", idxPath, "--json"])
        XCTAssertEqual(batch.exitCode, 0, "\(batch)")
        let predictions = try XCTUnwrap(try jsonOutput(batch)["predictions"] as? [[[String: Any]]])
        XCTAssertEqual(predictions.count, count)
        for (got, want) in zip(predictions, expected) {
            XCTAssertEqual(got.map { $0["label"] as? Int }, want.map(\.label))
            for (g, w) in zip(got, want) {
                XCTAssertEqual(try XCTUnwrap(g["probability"] as? Double), w.probability, accuracy: 1e-5)
            }
        }

        // Image 3 alone as PGM and as PNG gives the same answer.
        let image = [UInt8](source[(16 + 3 * 784)..<(16 + 4 * 784)])
        let pgm = scratch.appendingPathComponent("three.pgm").path
        try Data(Array("P5\n28 28\n255\n".utf8) + image).write(to: URL(fileURLWithPath: pgm))
        let png = scratch.appendingPathComponent("three.png").path
        try Data(pngFile(width: 28, height: 28, channels: 1, pixels: image, filters: (0..<28).map { UInt8($0 % 5) }))
            .write(to: URL(fileURLWithPath: png))
        for file in [pgm, png] {
            let single = try ddp(["predict", "--checkpoint", run.path, "--input", file, "--top-k", "2"])
            XCTAssertEqual(single.exitCode, 0, "\(single)")
            let want = expected[3].prefix(2).map { "\($0.label) (\(String(format: "%.4f", $0.probability)))" }.joined(separator: ", ")
            XCTAssertTrue(single.stdout.contains("prediction: \(want)"), "\(file): \(single.stdout) vs \(want)")
        }

        // Wrong size and unreadable files are refused with what is wrong.
        let small = scratch.appendingPathComponent("small.pgm").path
        try Data(Array("P5 27 28 255\n".utf8) + [UInt8](repeating: 0, count: 27 * 28)).write(to: URL(fileURLWithPath: small))
        let wrongSize = try ddp(["predict", "--checkpoint", run.path, "--input", small])
        XCTAssertEqual(wrongSize.exitCode, 2, "\(wrongSize)")
        XCTAssertTrue(wrongSize.stderr.contains("images are 27x28 pixels; the model takes 28x28 grayscale"), wrongSize.stderr)
        let garbage = scratch.appendingPathComponent("garbage.bin").path
        try Data("hello".utf8).write(to: URL(fileURLWithPath: garbage))
        let unreadable = try ddp(["predict", "--checkpoint", run.path, "--input", garbage])
        XCTAssertEqual(unreadable.exitCode, 2, "\(unreadable)")
        XCTAssertTrue(unreadable.stderr.contains("not an IDX (ubyte images), PGM or PNG file"), unreadable.stderr)
        let absent = try ddp(["predict", "--checkpoint", run.path, "--input", scratch.appendingPathComponent("none.png").path])
        XCTAssertEqual(absent.exitCode, 2, "\(absent)")
        XCTAssertTrue(absent.stderr.contains("no such file"), absent.stderr)
    }

    func testLanguageModelPredictGeneratesAndValidatesPrompts() throws {
        let run = try trainRun(Self.gptConfig, name: "gpt")
        let first = try ddp(["predict", "--checkpoint", run.path, "--prompt", "1 2 3", "--tokens", "12", "--seed", "7", "--json"])
        XCTAssertEqual(first.exitCode, 0, "\(first)")
        let tokens = try XCTUnwrap(try jsonOutput(first)["tokens"] as? [Int])
        XCTAssertEqual(tokens.count, 12)
        XCTAssertTrue(tokens.allSatisfy { (0..<11).contains($0) })
        // The seed fixes the sample.
        let again = try ddp(["predict", "--checkpoint", run.path, "--prompt", "1 2 3", "--tokens", "12", "--seed", "7", "--json"])
        XCTAssertEqual(try jsonOutput(again)["tokens"] as? [Int], tokens)

        let empty = try ddp(["predict", "--checkpoint", run.path, "--prompt", ""])
        XCTAssertEqual(empty.exitCode, 2, "\(empty)")
        XCTAssertTrue(empty.stderr.contains("prompt: the prompt is empty"), empty.stderr)
        let outside = try ddp(["predict", "--checkpoint", run.path, "--prompt", "1 99"])
        XCTAssertEqual(outside.exitCode, 2, "\(outside)")
        XCTAssertTrue(outside.stderr.contains("'99' is not a token id in 0..<11"), outside.stderr)
        let classifierInput = try ddp(["predict", "--checkpoint", run.path, "--input", "x.png"])
        XCTAssertEqual(classifierInput.exitCode, 2, "\(classifierInput)")
    }

    func testCharacterModelRejectsUnknownCharacters() throws {
        let data = FileManager.default.currentDirectoryPath + "/data"
        guard FileManager.default.fileExists(atPath: data + "/shakespeare/shakespeare.txt") else {
            throw Prerequisite.missing("the Shakespeare corpus is not in data/shakespeare")
        }
        let yaml = Self.gptConfig
            .replacingOccurrences(of: "dataset: synthetic_text", with: "dataset: shakespeare\n  dir: \(data)")
            .replacingOccurrences(of: "  samples: 96\n", with: "")
            .replacingOccurrences(of: "  vocabulary: 11\n", with: "")
            .replacingOccurrences(of: "steps: 16", with: "steps: 3")
        let run = try trainRun(yaml, name: "chars")
        let ok = try ddp(["predict", "--checkpoint", run.path, "--prompt", "ROMEO:", "--tokens", "20", "--temperature", "0"])
        XCTAssertEqual(ok.exitCode, 0, "\(ok)")
        XCTAssertTrue(ok.stdout.hasPrefix("ROMEO:"), ok.stdout)
        XCTAssertEqual(ok.stdout.trimmingCharacters(in: .newlines).unicodeScalars.count, 26, ok.stdout)
        let unknown = try ddp(["predict", "--checkpoint", run.path, "--prompt", "Romeo 🌹"])
        XCTAssertEqual(unknown.exitCode, 2, "\(unknown)")
        XCTAssertTrue(unknown.stderr.contains("is not in the model's vocabulary"), unknown.stderr)
    }
}
