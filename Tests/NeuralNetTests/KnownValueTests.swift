import XCTest
import TensorCore
@testable import NeuralNet

/// Hand-computed results for tiny cases.
final class KnownValueTests: XCTestCase {
    func testLinearTwoByThree() {
        let layer = Linear(inputs: 3, outputs: 2)
        let store = ParameterStore(layer.parameterSpecs(prefix: ""))
        layer.bind(to: store, prefix: "")
        store.value("weight").copy(from: Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6]))
        store.value("bias").copy(from: Tensor(shape: [2], values: [0.5, -1]))
        let y = layer(Tensor(shape: [1, 3], values: [1, 0, -1]))
        XCTAssertEqual(y.shape, [1, 2])
        XCTAssertEqual(y.array, [-1.5, -3])
        let dx = layer.backward(Tensor(shape: [1, 2], values: [1, 2]))
        XCTAssertEqual(dx.array, [9, 12, 15])
        XCTAssertEqual(store.gradient("weight").array, [1, 0, -1, 2, 0, -2])
        XCTAssertEqual(store.gradient("bias").array, [1, 2])
    }

    func testCrossEntropyOfKnownLogits() {
        let loss = SoftmaxCrossEntropy()
        let logits = Tensor(shape: [3, 3], values: [0, 0, 0, 7, 7, 7, 1, 2, 3])
        let result = loss.forward(logits, targets: Tensor(shape: [3], values: [1, -1, 2]))
        let row0 = Float(log(3.0))
        let row2 = Float(log(exp(1.0) + exp(2.0) + exp(3.0)) - 3)
        XCTAssertEqual(result.loss, (row0 + row2) / 2, accuracy: 1e-6)
        XCTAssertEqual(result.count, 2)
        XCTAssertEqual(result.correct, 1, "row 0 ties go to class 0, row 2 predicts 2")
        let g = loss.backward().array
        let third: Float = 1.0 / 3
        XCTAssertEqual(g[0], third / 2, accuracy: 1e-6)
        XCTAssertEqual(g[1], (third - 1) / 2, accuracy: 1e-6)
        XCTAssertEqual(Array(g[3..<6]), [0, 0, 0])
        let e = [exp(1.0), exp(2.0), exp(3.0)]
        let z = e.reduce(0, +)
        XCTAssertEqual(g[6], Float(e[0] / z) / 2, accuracy: 1e-6)
        XCTAssertEqual(g[8], Float(e[2] / z - 1) / 2, accuracy: 1e-6)
    }

    func testCrossEntropyIsStableForHugeLogits() {
        let loss = SoftmaxCrossEntropy()
        let result = loss.forward(Tensor(shape: [2, 2], values: [1000, 0, -1000, 1000]),
                                  targets: Tensor(shape: [2], values: [0, 0]))
        XCTAssertEqual(result.loss, 1000, accuracy: 1e-3)  // (0 + 2000) / 2
        XCTAssertTrue(loss.backward().array.allSatisfy(\.isFinite))
    }

    func testCrossEntropyWithEveryTargetIgnored() {
        let loss = SoftmaxCrossEntropy()
        let result = loss.forward(Tensor(shape: [2, 2], values: [1, 2, 3, 4]),
                                  targets: Tensor(shape: [2], values: [-1, -1]))
        XCTAssertEqual(result, LossResult(loss: 0, correct: 0, count: 0))
        XCTAssertEqual(loss.backward().array, [0, 0, 0, 0])
    }

    func testCrossEntropyOverSequences() {
        // [B, T, classes] logits with [B, T] targets, as a language model uses them.
        let loss = SoftmaxCrossEntropy()
        let result = loss.forward(Tensor(repeating: 0, shape: [2, 2, 4]),
                                  targets: Tensor(shape: [2, 2], values: [0, 1, 2, -1]))
        XCTAssertEqual(result.loss, Float(log(4.0)), accuracy: 1e-6)
        XCTAssertEqual(result.count, 3)
        XCTAssertEqual(loss.backward().shape, [2, 2, 4])
    }

    func testMeanSquaredError() {
        let loss = MeanSquaredError()
        let result = loss.forward(Tensor(shape: [2, 1], values: [1, 2]), targets: Tensor(shape: [2, 1], values: [0, 4]))
        XCTAssertEqual(result.loss, 2.5)
        XCTAssertEqual(result.count, 2)
        XCTAssertEqual(loss.backward().array, [1, -2])
    }

    func testMeanSquaredErrorCountsOneHotMatches() {
        let loss = MeanSquaredError()
        let predictions = Tensor(shape: [3, 3], values: [0.9, 0.1, 0, 0.2, 0.3, 0.5, 0.1, 0.8, 0.1])
        // Row 0 matches its hot class, row 1 does not, row 2 is not one-hot.
        let targets = Tensor(shape: [3, 3], values: [1, 0, 0, 1, 0, 0, 0.5, 0.5, 0])
        let result = loss.forward(predictions, targets: targets)
        XCTAssertEqual(result.correct, 1)
        XCTAssertEqual(result.count, 3)
    }

    func testMaxPoolOfFourByFour() {
        let pool = MaxPool2d(kernel: 2)
        let x = Tensor(shape: [1, 1, 4, 4], values: [1, 5, 2, 0,
                                                     3, 4, 8, 6,
                                                     9, 1, 0, 2,
                                                     7, 3, 4, 16])
        let y = pool(x)
        XCTAssertEqual(y.shape, [1, 1, 2, 2])
        XCTAssertEqual(y.array, [5, 8, 9, 16])
        let dx = pool.backward(Tensor(shape: [1, 1, 2, 2], values: [1, 2, 3, 4]))
        XCTAssertEqual(dx.array, [0, 1, 0, 0,
                                  0, 0, 2, 0,
                                  3, 0, 0, 0,
                                  0, 0, 0, 4])
    }

    func testConvolutionOfThreeByThree() {
        let conv = Conv2d(inChannels: 1, outChannels: 2, kernel: 2)
        let store = ParameterStore(conv.parameterSpecs(prefix: ""))
        conv.bind(to: store, prefix: "")
        // Filter 0 sums its window, filter 1 takes the top-left minus the bottom-right.
        store.value("weight").copy(from: Tensor(shape: [2, 1, 2, 2], values: [1, 1, 1, 1, 1, 0, 0, -1]))
        store.value("bias").copy(from: Tensor(shape: [2], values: [1, 0]))
        let y = conv(Tensor(shape: [1, 1, 3, 3], values: [1, 2, 3, 4, 5, 6, 7, 8, 9]))
        XCTAssertEqual(y.shape, [1, 2, 2, 2])
        XCTAssertEqual(y.array, [13, 17, 25, 29, -4, -4, -4, -4])
        let dx = conv.backward(Tensor(shape: [1, 2, 2, 2], values: [1, 0, 0, 0, 0, 0, 0, 1]))
        // Filter 0's gradient covers the top-left window; filter 1's the bottom-right one.
        XCTAssertEqual(dx.array, [1, 1, 0, 1, 2, 0, 0, 0, -1])
        XCTAssertEqual(store.gradient("bias").array, [1, 1])
        XCTAssertEqual(store.gradient("weight").array, [1, 2, 4, 5, 5, 6, 8, 9])
    }

    func testPaddedConvolutionSeesZerosAtTheBorder() {
        let conv = Conv2d(inChannels: 1, outChannels: 1, kernel: 3, padding: 1)
        let store = ParameterStore(conv.parameterSpecs(prefix: ""))
        conv.bind(to: store, prefix: "")
        store.value("weight").fill(1)
        let y = conv(Tensor(repeating: 1, shape: [1, 1, 3, 3]))
        XCTAssertEqual(y.array, [4, 6, 4, 6, 9, 6, 4, 6, 4])
    }

    func testGELUValues() {
        let y = GELU()(Tensor(shape: [3], values: [0, 1, -2])).array
        XCTAssertEqual(y[0], 0)
        XCTAssertEqual(y[1], 0.841192, accuracy: 1e-5)
        XCTAssertEqual(y[2], -0.0454023, accuracy: 1e-5)
    }
}
