import XCTest
import TensorCore
@testable import NeuralNet

/// Checks of the whole ``GPT``: layout, init, loss gradients, causality,
/// gradient-ready reporting and accumulation.
final class GPTModelTests: XCTestCase {
    static let tiny = GPTConfiguration(vocabSize: 7, contextLength: 5, layers: 2, heads: 2, width: 8)

    func tinyModel(seed: UInt64 = 42, dropout: Float = 0) -> GPT {
        var configuration = Self.tiny
        configuration.dropout = dropout
        let model = GPT(configuration)
        model.initializeParameters(seed: seed)
        return model
    }

    func tokens(_ rows: [[Int]]) -> Tensor {
        Tensor(shape: [rows.count, rows[0].count], values: rows.flatMap { $0.map(Float.init) })
    }

    func testLayoutIsReverseForwardOrder() {
        let model = tinyModel()
        let names = model.parameters.parameters.map(\.name)
        XCTAssertEqual(Array(names.prefix(3)), ["ln_f.bias", "ln_f.weight", "blocks.1.mlp.proj.bias"])
        XCTAssertEqual(Array(names.suffix(4)), ["blocks.0.ln1.bias", "blocks.0.ln1.weight", "wpe.weight", "wte.weight"])
        XCTAssertEqual(names.count, 4 + 12 * 2)
        let c = 8, v = 7, t = 5
        let perBlock = 4 * c + (3 * c * c + 3 * c) + (c * c + c) + (4 * c * c + 4 * c) + (4 * c * c + c)
        XCTAssertEqual(model.parameters.count, 2 * c + 2 * perBlock + t * c + v * c)
        XCTAssertEqual(model.parameters.info("blocks.0.attn.qkv.weight").shape, [24, 8])
        XCTAssertEqual(model.parameters.info("blocks.0.mlp.proj.weight").shape, [8, 32])
        for info in model.parameters.parameters {
            let isMatrix = info.name.hasSuffix(".weight") && !info.name.contains("ln")
            XCTAssertEqual(info.decays, isMatrix, info.name)
        }
    }

    func testInitializationIsDeterministicAndScaled() {
        let a = tinyModel(seed: 7), b = tinyModel(seed: 7), c = tinyModel(seed: 8)
        XCTAssertEqual(a.parameters.values.array, b.parameters.values.array)
        XCTAssertNotEqual(a.parameters.values.array, c.parameters.values.array)
        XCTAssertTrue(a.parameters.value("blocks.1.ln2.weight").array.allSatisfy { $0 == 1 })
        XCTAssertTrue(a.parameters.value("blocks.1.mlp.fc.bias").array.allSatisfy { $0 == 0 })
        // Streams are keyed by name: a parameter's values do not depend on the layout.
        var generator = RandomGenerator(seed: 7, stream: parameterStream("wte.weight"))
        XCTAssertEqual(a.parameters.value("wte.weight")[0], 0.02 * generator.nextNormal())
        XCTAssertNotEqual(a.parameters.value("wte.weight")[0], a.parameters.value("wpe.weight")[0])

        // Standard deviations on a wider model, where the sample is large enough.
        let wide = GPT(GPTConfiguration.benchmark)
        wide.initializeParameters(seed: 1)
        func std(_ name: String) -> Double {
            let x = wide.parameters.value(name).array.map(Double.init)
            let mean = x.reduce(0, +) / Double(x.count)
            return (x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(x.count)).squareRoot()
        }
        XCTAssertEqual(std("blocks.0.mlp.fc.weight"), 0.02, accuracy: 0.001)
        XCTAssertEqual(std("blocks.3.mlp.proj.weight"), 0.02 / 8.0.squareRoot(), accuracy: 0.0005)
        XCTAssertEqual(std("blocks.2.attn.proj.weight"), 0.02 / 8.0.squareRoot(), accuracy: 0.0005)
    }

    func testUntrainedLossIsNearUniform() {
        let model = tinyModel()
        let result = model.forward(inputs: tokens([[1, 2, 3, 4, 5], [0, 6, 6, 2, 1]]),
                                   targets: tokens([[2, 3, 4, 5, 6], [6, 6, 2, 1, -1]]))
        XCTAssertEqual(result.count, 9)
        XCTAssertEqual(result.loss, log(7), accuracy: 0.05)
        XCTAssertLessThanOrEqual(result.correct, 9)
    }

    func testFullModelGradients() {
        let model = tinyModel()
        // Matrices larger than init: with std 0.02 the residual stream is so small
        // that a finite-difference step of 1e-2 would not be local to the layer norms.
        scaleMatrices(model, by: 15)
        let inputs = tokens([[1, 2, 3, 4, 5], [0, 6, 6, 2, 1]])
        let targets = tokens([[2, 3, 4, 5, 6], [6, -1, 2, 1, 0]])
        assertGradientsMatch(model: model, inputs: inputs, targets: targets, samples: 4)
    }

    func scaleMatrices(_ model: GPT, by factor: Float) {
        for info in model.parameters.parameters where info.decays {
            let values = model.parameters.value(info.name)
            for i in 0..<values.count { values[i] *= factor }
        }
    }

    func testLogitsAgreeWithTheLoss() {
        let model = tinyModel()
        let inputs = tokens([[3, 1, 4], [1, 5, 2]])
        let targets = tokens([[1, 4, 1], [5, 2, 6]])
        let logits = model.logits(inputs: inputs)
        XCTAssertEqual(logits.shape, [2, 3, 7])
        var loss = 0.0
        var correct = 0
        for row in 0..<6 {
            let l = (0..<7).map { Double(logits[row * 7 + $0]) }
            let m = l.max()!
            let target = Int(targets[row])
            loss += log(l.map { exp($0 - m) }.reduce(0, +)) - (l[target] - m)
            if l.firstIndex(of: m) == target { correct += 1 }
        }
        let result = model.forward(inputs: inputs, targets: targets)
        XCTAssertEqual(Double(result.loss), loss / 6, accuracy: 1e-5)
        XCTAssertEqual(result.correct, correct)
    }

    func testCausality() {
        let model = tinyModel()
        for i in 0..<model.parameters.count { model.parameters.values[i] *= 5 }
        let before = model.logits(inputs: tokens([[1, 2, 3, 4, 5]]))
        let after = model.logits(inputs: tokens([[1, 2, 3, 0, 6]]))
        // Positions 0...2 see only unchanged tokens.
        XCTAssertEqual(Array(before.array[0..<21]), Array(after.array[0..<21]))
        XCTAssertNotEqual(Array(before.array[21..<28]), Array(after.array[21..<28]))
    }

    func testGradientRangesAreFinalWhenReported() {
        let model = tinyModel()
        let store = model.parameters
        store.zeroGradients()
        _ = model.forward(inputs: tokens([[1, 2, 3, 4, 5], [6, 5, 4, 3, 2]]),
                          targets: tokens([[2, 3, 4, 5, 6], [5, 4, 3, 2, 1]]))
        var reported: [Range<Int>] = []
        var snapshots: [[Float]] = []
        model.backward { range in
            reported.append(range)
            snapshots.append(Array(store.gradients.buffer[range]))
        }
        assertRangesCover(reported, count: store.count)
        // One range per kernel with parameters: ln_f, six per block, the embeddings.
        XCTAssertEqual(reported.count, 1 + 6 * 2 + 1)
        for (range, snapshot) in zip(reported, snapshots) {
            XCTAssertEqual(Array(store.gradients.buffer[range]), snapshot, "range \(range) changed after it was reported")
        }
        XCTAssertTrue(store.gradients.array.contains { $0 != 0 })
    }

    func testBackwardAccumulates() {
        let model = tinyModel()
        let inputs = tokens([[1, 2, 3, 4], [6, 5, 4, 3]])
        let targets = tokens([[2, 3, 4, 5], [5, 4, -1, 2]])
        model.parameters.zeroGradients()
        _ = model.forward(inputs: inputs, targets: targets)
        model.backward(gradientsReady: nil)
        let once = model.parameters.gradients.array
        _ = model.forward(inputs: inputs, targets: targets)
        model.backward(gradientsReady: nil)
        let twice = model.parameters.gradients.array
        for i in 0..<once.count { XCTAssertEqual(twice[i], 2 * once[i], accuracy: 1e-6 + 1e-5 * abs(once[i])) }
    }

    func testWorkspaceReuseAcrossShapes() {
        let model = tinyModel()
        let small = tokens([[3, 4, 5]])
        let smallTargets = tokens([[4, 5, 6]])
        let fresh = tinyModel()
        let expected = fresh.forward(inputs: small, targets: smallTargets)
        fresh.parameters.zeroGradients()
        fresh.backward(gradientsReady: nil)

        // A larger step first, then the small one packed into the larger workspace.
        _ = model.forward(inputs: tokens([[1, 2, 3, 4, 5], [6, 5, 4, 3, 2], [0, 0, 1, 1, 2]]),
                          targets: tokens([[2, 3, 4, 5, 6], [5, 4, 3, 2, 1], [0, 1, 1, 2, 2]]))
        let result = model.forward(inputs: small, targets: smallTargets)
        model.parameters.zeroGradients()
        model.backward(gradientsReady: nil)
        XCTAssertEqual(result, expected)
        XCTAssertEqual(model.parameters.gradients.array, fresh.parameters.gradients.array)
    }

    func testAllIgnoredTargetsGiveZeroLossAndGradient() {
        let model = tinyModel()
        let result = model.forward(inputs: tokens([[1, 2]]), targets: tokens([[-1, -1]]))
        XCTAssertEqual(result, LossResult(loss: 0, correct: 0, count: 0))
        model.parameters.zeroGradients()
        model.backward(gradientsReady: nil)
        XCTAssertTrue(model.parameters.gradients.array.allSatisfy { $0 == 0 })
    }

    func testDropoutOnlyWhileTraining() {
        let plain = tinyModel()
        let dropped = tinyModel(dropout: 0.5)
        let inputs = tokens([[1, 2, 3, 4, 5]])
        let targets = tokens([[2, 3, 4, 5, 6]])
        dropped.isTraining = false
        XCTAssertEqual(dropped.forward(inputs: inputs, targets: targets), plain.forward(inputs: inputs, targets: targets))
        dropped.isTraining = true
        let state = dropped.dropoutGenerator
        let first = dropped.forward(inputs: inputs, targets: targets)
        XCTAssertNotEqual(dropped.dropoutGenerator, state)
        XCTAssertNotEqual(first.loss, plain.forward(inputs: inputs, targets: targets).loss)
        dropped.dropoutGenerator = state
        XCTAssertEqual(dropped.forward(inputs: inputs, targets: targets), first)
    }

    /// With the dropout draws fixed, the loss is a smooth function of the
    /// parameters; replaying the generator state makes every evaluation use them.
    func testDropoutGradients() {
        let model = tinyModel(dropout: 0.3)
        scaleMatrices(model, by: 15)
        let inputs = tokens([[1, 2, 3, 4, 5]])
        let targets = tokens([[2, 3, 4, 5, 6]])
        let state = model.dropoutGenerator
        func loss() -> Float {
            model.dropoutGenerator = state
            return model.forward(inputs: inputs, targets: targets).loss
        }
        model.parameters.zeroGradients()
        _ = loss()
        model.backward(gradientsReady: nil)
        let store = model.parameters
        for name in ["blocks.0.attn.qkv.weight", "blocks.1.mlp.fc.weight", "wte.weight"] {
            let info = store.info(name)
            for i in gradientCheckIndices(count: info.count, samples: 6, seed: 3) {
                let flat = info.offset + i
                let saved = store.values[flat]
                store.values[flat] = saved + 1e-2
                let plus = loss()
                store.values[flat] = saved - 1e-2
                let minus = loss()
                store.values[flat] = saved
                let numeric = (plus - minus) / 2e-2
                XCTAssertLessThan(gradientError(analytic: store.gradients[flat], numeric: numeric, floor: 1e-2), 2e-2,
                                  "\(name)[\(i)]")
            }
        }
    }

    func testSGDLearnsARepeatedSequence() {
        let model = tinyModel()
        let inputs = tokens([[0, 1, 2, 3, 4], [2, 3, 4, 5, 6]])
        let targets = tokens([[1, 2, 3, 4, 5], [3, 4, 5, 6, 0]])
        let (first, last) = fitWithGradientDescent(model, inputs: inputs, targets: targets, steps: 60, learningRate: 0.5)
        XCTAssertLessThan(last.loss, 0.5 * first.loss)
        XCTAssertGreaterThan(last.correct, first.correct)
    }
}
