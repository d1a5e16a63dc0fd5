import XCTest
import TensorCore
@testable import NeuralNet

/// Full-loss gradient checks and the `Model` contract for MLP and LeNet.
final class ModelTests: XCTestCase {
    private func classTargets(_ count: Int, classes: Int, seed: UInt64) -> Tensor {
        var generator = RandomGenerator(seed: seed, stream: 4)
        return Tensor(shape: [count], values: (0..<count).map { _ in Float(generator.nextIndex(below: classes)) })
    }

    private func smallLeNet() -> LeNet {
        LeNet(.init(imageSize: 12, conv1Channels: 2, conv2Channels: 3, kernel: 3, hidden: 5, classes: 4))
    }

    // MARK: Gradient checks

    func testMLPGradientsForEachActivation() {
        for activation in Activation.allCases {
            let model = MLP(inputs: 5, hidden: [7, 6], outputs: 3, activation: activation)
            model.initializeParameters(seed: 21)
            assertGradientsMatch(model: model, inputs: randomTensor([4, 5], seed: 22),
                                 targets: classTargets(4, classes: 3, seed: 23))
        }
    }

    func testMLPRegressionGradients() {
        let model = MLP(inputs: 3, hidden: [6], outputs: 2, activation: .tanh, loss: .meanSquaredError)
        model.initializeParameters(seed: 24)
        assertGradientsMatch(model: model, inputs: randomTensor([5, 3], seed: 25),
                             targets: randomTensor([5, 2], seed: 26))
    }

    func testMLPWithDropoutHasExactGradientsInEvaluation() {
        let model = MLP(inputs: 4, hidden: [8], outputs: 3, activation: .gelu, dropout: 0.5)
        model.initializeParameters(seed: 27)
        assertGradientsMatch(model: model, inputs: randomTensor([3, 4], seed: 28),
                             targets: classTargets(3, classes: 3, seed: 29))
    }

    func testLeNetGradients() {
        let model = smallLeNet()
        model.initializeParameters(seed: 30)
        // A weight of conv1 moves hundreds of ReLU and max-pool inputs at once, so
        // ±1e-2 crosses kinks; ±1e-3 does not, and the Double-summed loss keeps
        // the finite difference accurate enough.
        assertGradientsMatch(model: model, inputs: randomTensor([3, 1, 12, 12], seed: 31),
                             targets: classTargets(3, classes: 4, seed: 32), epsilon: 1e-3, samples: 20)
    }

    // MARK: Layout and initialization

    func testMLPParameterLayoutIsReverseForwardOrder() {
        let model = MLP(inputs: 4, hidden: [3, 2], outputs: 5)
        XCTAssertEqual(model.parameters.parameters.map(\.name),
                       ["layers.2.weight", "layers.2.bias", "layers.1.weight", "layers.1.bias",
                        "layers.0.weight", "layers.0.bias"])
        XCTAssertEqual(model.parameters.info("layers.0.weight").shape, [3, 4])
        XCTAssertEqual(model.parameters.parameters.map(\.decays), [true, false, true, false, true, false])
        XCTAssertEqual(model.parameters.count, 5 * 2 + 5 + 2 * 3 + 2 + 3 * 4 + 3)
    }

    func testLeNetParameterLayout() {
        let model = LeNet()
        XCTAssertEqual(model.parameters.parameters.map(\.name),
                       ["fc2.weight", "fc2.bias", "fc1.weight", "fc1.bias",
                        "conv2.weight", "conv2.bias", "conv1.weight", "conv1.bias"])
        XCTAssertEqual(model.parameters.info("conv1.weight").shape, [16, 1, 5, 5])
        XCTAssertEqual(model.parameters.info("fc1.weight").shape, [128, 32 * 4 * 4])
    }

    func testInitializationIsDeterministic() {
        let a = MLP(inputs: 20, hidden: [30], outputs: 4)
        let b = MLP(inputs: 20, hidden: [30], outputs: 4)
        a.initializeParameters(seed: 99)
        b.initializeParameters(seed: 99)
        XCTAssertEqual(a.parameters.values.array.map(\.bitPattern), b.parameters.values.array.map(\.bitPattern))
        b.initializeParameters(seed: 100)
        XCTAssertNotEqual(a.parameters.values.array, b.parameters.values.array)
        // Again with the same model: re-initializing restores the same bits.
        b.initializeParameters(seed: 99)
        XCTAssertEqual(a.parameters.values.array.map(\.bitPattern), b.parameters.values.array.map(\.bitPattern))
    }

    func testInitializationIsStableAcrossRunsAndPlatforms() {
        // Pinned bits: a change here would break resuming old checkpoints' seeds
        // and the promise that every rank derives the same weights.
        let model = MLP(inputs: 4, hidden: [3], outputs: 2)
        model.initializeParameters(seed: 1)
        XCTAssertEqual(model.parameters.value("layers.0.weight").array.prefix(3).map(\.bitPattern),
                       [0x3F65_AC7B, 0xBF81_B10A, 0x3DA4_D324])
    }

    func testInitializationDoesNotDependOnOtherLayers() {
        // layers.0 has the same name and shape in both; another layer in between
        // or a different layout must not change its values.
        let a = MLP(inputs: 6, hidden: [5], outputs: 3)
        let b = MLP(inputs: 6, hidden: [5, 9, 2], outputs: 7)
        a.initializeParameters(seed: 7)
        b.initializeParameters(seed: 7)
        XCTAssertEqual(a.parameters.value("layers.0.weight").array, b.parameters.value("layers.0.weight").array)
        XCTAssertNotEqual(a.parameters.value("layers.0.weight").array, a.parameters.value("layers.1.weight").array.prefix(30).map { $0 })
    }

    func testInitializationSchemes() {
        let relu = MLP(inputs: 400, hidden: [300], outputs: 10)
        relu.initializeParameters(seed: 1)
        let w = relu.parameters.value("layers.0.weight").array
        let bound = (6 / Float(400)).squareRoot()
        XCTAssertTrue(w.allSatisfy { abs($0) <= bound })
        // Uniform on ±bound has variance bound² / 3 = 2 / fanIn.
        let variance = w.reduce(0) { $0 + $1 * $1 } / Float(w.count)
        XCTAssertEqual(variance, 2 / 400, accuracy: 0.05 * 2 / 400)
        XCTAssertTrue(relu.parameters.value("layers.0.bias").array.allSatisfy { $0 == 0 })

        let tanh = MLP(inputs: 400, hidden: [300], outputs: 10, activation: .tanh)
        tanh.initializeParameters(seed: 1)
        let xavier = (6 / Float(700)).squareRoot()
        let wt = tanh.parameters.value("layers.0.weight").array
        XCTAssertTrue(wt.allSatisfy { abs($0) <= xavier })
        XCTAssertGreaterThan(wt.map(abs).max()!, 0.95 * xavier)
    }

    // MARK: Backward contract

    func testGradientRangesAreReportedInOrderAfterEachLayer() {
        let model = MLP(inputs: 6, hidden: [5, 4], outputs: 3, dropout: 0.1)
        model.initializeParameters(seed: 2)
        _ = model.forward(inputs: randomTensor([2, 6], seed: 3), targets: classTargets(2, classes: 3, seed: 4))
        var ranges: [Range<Int>] = []
        model.backward { range in
            // Reported right after the layer: that range's gradient is final (nonzero) now,
            // and nothing beyond it has been written yet.
            let g = model.parameters.gradients
            XCTAssertTrue((range.lowerBound..<range.upperBound).contains { g[$0] != 0 })
            XCTAssertTrue((range.upperBound..<g.count).allSatisfy { g[$0] == 0 })
            ranges.append(range)
        }
        let infos = model.parameters.parameters
        XCTAssertEqual(ranges, [infos[0].offset..<infos[1].range.upperBound,
                                infos[2].offset..<infos[3].range.upperBound,
                                infos[4].offset..<infos[5].range.upperBound])
        assertRangesCover(ranges, count: model.parameters.count)

        let lenet = smallLeNet()
        lenet.initializeParameters(seed: 5)
        _ = lenet.forward(inputs: randomTensor([2, 144], seed: 6), targets: classTargets(2, classes: 4, seed: 7))
        ranges = []
        lenet.backward { ranges.append($0) }
        XCTAssertEqual(ranges.count, 4)
        assertRangesCover(ranges, count: lenet.parameters.count)
    }

    func testBackwardAccumulates() {
        for model in [MLP(inputs: 5, hidden: [4], outputs: 3) as Model, smallLeNet()] {
            model.initializeParameters(seed: 8)
            let features = model is MLP ? 5 : 144
            let x = randomTensor([3, features], seed: 9)
            let t = classTargets(3, classes: 3, seed: 10)
            _ = model.forward(inputs: x, targets: t)
            model.backward(gradientsReady: nil)
            let once = model.parameters.gradients.array
            XCTAssertTrue(once.contains { $0 != 0 })
            _ = model.forward(inputs: x, targets: t)
            model.backward(gradientsReady: nil)
            // A second backward of the same forward adds the same gradient again.
            model.backward(gradientsReady: nil)
            for (g, g1) in zip(model.parameters.gradients.array, once) {
                XCTAssertEqual(g, 3 * g1, accuracy: 1e-5 + 1e-5 * abs(g1))
            }
        }
    }

    // MARK: Batches and modes

    func testBatchSizeMayChange() {
        let model = MLP(inputs: 6, hidden: [8], outputs: 3)
        model.initializeParameters(seed: 11)
        let big = randomTensor([8, 6], seed: 12)
        let small = big.rows(0..<3).clone()
        let reference = model.logits(inputs: small)
        _ = model.logits(inputs: big)
        let again = model.logits(inputs: small)
        XCTAssertEqual(again.shape, [3, 3])
        XCTAssertEqual(again.array, reference.array)
        // A full step on the small batch after a big one gives the small batch's gradient.
        let fresh = MLP(inputs: 6, hidden: [8], outputs: 3)
        fresh.initializeParameters(seed: 11)
        let t = classTargets(3, classes: 3, seed: 13)
        _ = fresh.forward(inputs: small, targets: t)
        fresh.backward(gradientsReady: nil)
        _ = model.forward(inputs: big, targets: classTargets(8, classes: 3, seed: 14))
        _ = model.forward(inputs: small, targets: t)
        model.backward(gradientsReady: nil)
        XCTAssertEqual(model.parameters.gradients.array, fresh.parameters.gradients.array)
    }

    func testFullSizeLeNetOnMNISTShapes() {
        let model = LeNet()
        model.initializeParameters(seed: 3)
        var ranges: [Range<Int>] = []
        let first = model.forward(inputs: randomTensor([3, 1, 28, 28], seed: 4), targets: classTargets(3, classes: 10, seed: 5))
        XCTAssertTrue(first.loss.isFinite)
        XCTAssertEqual(first.count, 3)
        model.backward { ranges.append($0) }
        assertRangesCover(ranges, count: model.parameters.count)
        // A smaller, flat batch next: workspaces are reused, shapes follow the batch.
        let second = model.forward(inputs: randomTensor([2, 784], seed: 6), targets: classTargets(2, classes: 10, seed: 7))
        XCTAssertEqual(second.count, 2)
        model.backward(gradientsReady: nil)
        XCTAssertTrue(model.parameters.gradients.array.allSatisfy(\.isFinite))
        XCTAssertEqual(model.logits(inputs: randomTensor([5, 784], seed: 8)).shape, [5, 10])
    }

    func testLogitsAgreeWithTheLoss() {
        let model = smallLeNet()
        model.initializeParameters(seed: 15)
        let x = randomTensor([6, 1, 12, 12], seed: 16)
        let logits = model.logits(inputs: x)
        XCTAssertEqual(logits.shape, [6, 4])
        XCTAssertEqual(model.logits(inputs: x.reshaped([6, 144])).array, logits.array)
        // Targets equal to the argmax make every prediction correct.
        let argmax = (0..<6).map { r in Float((0..<4).max { logits[r * 4 + $0] < logits[r * 4 + $1] }!) }
        let result = model.forward(inputs: x, targets: Tensor(shape: [6], values: argmax))
        XCTAssertEqual(result.correct, 6)
        XCTAssertEqual(result.count, 6)
    }

    func testDropoutIsReproducibleFromTheGenerator() {
        let model = MLP(inputs: 8, hidden: [32], outputs: 3, dropout: 0.5)
        model.initializeParameters(seed: 17)
        let x = randomTensor([4, 8], seed: 18)
        let t = classTargets(4, classes: 3, seed: 19)
        model.isTraining = false
        let evaluation = model.forward(inputs: x, targets: t).loss
        XCTAssertEqual(model.forward(inputs: x, targets: t).loss, evaluation)
        model.isTraining = true
        let start = model.dropoutGenerator
        let first = model.forward(inputs: x, targets: t).loss
        XCTAssertNotEqual(model.dropoutGenerator, start)
        let second = model.forward(inputs: x, targets: t).loss
        XCTAssertNotEqual(first, second, "a fresh mask each step")
        XCTAssertNotEqual(first, evaluation)
        model.dropoutGenerator = start
        XCTAssertEqual(model.forward(inputs: x, targets: t).loss, first)
    }

    // MARK: Learning

    func testMLPLearnsASyntheticProblem() {
        // Two classes separated by the sign of x0 + x1: plain SGD must fit them.
        let model = MLP(inputs: 2, hidden: [16], outputs: 2)
        model.initializeParameters(seed: 20)
        let x = randomTensor([64, 2], seed: 21)
        let t = Tensor(shape: [64], values: (0..<64).map { x[2 * $0] + x[2 * $0 + 1] > 0 ? 1 : 0 })
        let (initial, last) = fitWithGradientDescent(model, inputs: x, targets: t, steps: 200, learningRate: 0.5)
        XCTAssertLessThan(last.loss, 0.25 * initial.loss)
        XCTAssertGreaterThanOrEqual(last.correct, 60)
    }
}
