import XCTest
import TensorCore
@testable import NeuralNet

/// Finite-difference checks of every layer's input and parameter gradients.
final class LayerGradientTests: XCTestCase {
    /// Binds `layer` to a fresh store under the prefix "l." and initializes it.
    private func bound(_ layer: Layer, seed: UInt64 = 1) -> ParameterStore {
        let store = ParameterStore(layer.parameterSpecs(prefix: "l."))
        layer.bind(to: store, prefix: "l.")
        layer.initializeParameters(seed: seed)
        return store
    }

    private func parameterList(_ store: ParameterStore) -> [(name: String, value: Tensor, gradient: Tensor)] {
        store.parameters.map { ($0.name, store.value($0.name), store.gradient($0.name)) }
    }

    private func check(_ layer: Layer, input: Tensor, store: ParameterStore? = nil,
                       biasScale: Float = 0.5, file: StaticString = #filePath, line: UInt = #line) {
        if let store {
            // Nonzero biases so their effect is visible.
            for p in store.parameters where p.name.hasSuffix("bias") {
                let b = store.value(p.name)
                for i in 0..<b.count { b[i] = biasScale * Float(i % 3 - 1) }
            }
            store.zeroGradients()
        }
        assertLayerGradientsMatch(
            input: input, parameters: store.map(parameterList) ?? [],
            forward: { layer($0) },
            backward: { layer.backward($0) },
            file: file, line: line)
    }

    func testLinear() {
        let layer = Linear(inputs: 5, outputs: 4)
        let store = bound(layer)
        check(layer, input: randomTensor([3, 5], seed: 1), store: store)
    }

    func testLinearOnThreeDimensionalInput() {
        let layer = Linear(inputs: 3, outputs: 2)
        let store = bound(layer)
        check(layer, input: randomTensor([2, 3, 3], seed: 2), store: store)
    }

    func testLinearWithoutBias() {
        let layer = Linear(inputs: 4, outputs: 3, bias: false)
        let store = bound(layer)
        XCTAssertEqual(store.parameters.map(\.name), ["l.weight"])
        check(layer, input: randomTensor([2, 4], seed: 3), store: store)
    }

    func testReLU() {
        // Values kept away from the kink at 0 so ±epsilon never crosses it.
        let input = randomTensor([4, 6], seed: 4)
        for i in 0..<input.count where abs(input[i]) < 0.05 { input[i] = 0.3 }
        check(ReLU(), input: input)
    }

    func testGELU() {
        check(GELU(), input: randomTensor([4, 6], seed: 5, scale: 2))
    }

    func testTanh() {
        check(Tanh(), input: randomTensor([4, 6], seed: 6))
    }

    func testFlatten() {
        check(Flatten(), input: randomTensor([2, 3, 2, 2], seed: 7))
    }

    func testConv2d() {
        let layer = Conv2d(inChannels: 2, outChannels: 3, kernel: 3)
        let store = bound(layer)
        check(layer, input: randomTensor([2, 2, 5, 5], seed: 8), store: store)
    }

    func testConv2dWithStrideAndPadding() {
        checkConv2d(Conv2d(inChannels: 2, outChannels: 2, kernel: 3, stride: 2, padding: 1),
                    input: [2, 2, 6, 5], seed: 9, output: [2, 2, 3, 3])
    }

    func testConv2dWithWidePaddingAndLargeStride() {
        // Padding as large as the kernel leaves whole rows and columns of zeros.
        checkConv2d(Conv2d(inChannels: 1, outChannels: 2, kernel: 3, stride: 3, padding: 3),
                    input: [2, 1, 5, 7], seed: 19, output: [2, 2, 3, 4])
    }

    /// The output shape of `layer` on a random input of shape `input`, and its gradients.
    private func checkConv2d(_ layer: Conv2d, input shape: [Int], seed: UInt64, output: [Int],
                             file: StaticString = #filePath, line: UInt = #line) {
        let store = bound(layer)
        let input = randomTensor(shape, seed: seed)
        XCTAssertEqual(layer(input).shape, output, file: file, line: line)
        check(layer, input: input, store: store)
    }

    func testMaxPool2d() {
        // Distinct, well separated values so ±epsilon never changes a window's maximum.
        var generator = RandomGenerator(seed: 10)
        var values = (0..<(2 * 2 * 4 * 6)).map { Float($0) * 0.1 }
        values.shuffle(using: &generator)
        check(MaxPool2d(kernel: 2), input: Tensor(shape: [2, 2, 4, 6], values: values))
    }

    func testOverlappingMaxPool2d() {
        var generator = RandomGenerator(seed: 11)
        var values = (0..<(1 * 2 * 5 * 5)).map { Float($0) * 0.1 }
        values.shuffle(using: &generator)
        let layer = MaxPool2d(kernel: 3, stride: 1)
        check(layer, input: Tensor(shape: [1, 2, 5, 5], values: values))
    }

    func testDropoutInTrainingMatchesItsMask() {
        let layer = Dropout(rate: 0.5)
        let input = randomTensor([8, 16], seed: 12)
        var context = ForwardContext(isTraining: true, generator: RandomGenerator(seed: 13))
        let output = layer.forward(input, context: &context).clone()
        var dropped = 0
        for i in 0..<input.count {
            if output[i] == 0 { dropped += 1 } else { XCTAssertEqual(output[i], 2 * input[i], accuracy: 1e-6) }
        }
        XCTAssertGreaterThan(dropped, 32)
        XCTAssertLessThan(dropped, 96)
        // Backward passes the gradient only where the input survived, scaled the same.
        let gradient = layer.backward(Tensor(repeating: 1, shape: [8, 16]))
        for i in 0..<input.count {
            XCTAssertEqual(gradient[i], output[i] == 0 ? 0 : 2)
        }
        XCTAssertNotEqual(context.generator, RandomGenerator(seed: 13), "dropout must advance the generator")
    }

    func testDropoutIsIdentityWhenNotTraining() {
        let layer = Dropout(rate: 0.3)
        let input = randomTensor([3, 4], seed: 14)
        XCTAssertEqual(layer(input).array, input.array)
        check(layer, input: input)
    }

    func testResidualOfSequential() {
        let body = Sequential([Linear(inputs: 4, outputs: 6, initialization: .xavierUniform), Tanh(),
                               Linear(inputs: 6, outputs: 4, initialization: .xavierUniform)])
        let layer = Residual(body)
        let store = bound(layer)
        XCTAssertEqual(store.parameters.map(\.name),
                       ["l.body.2.weight", "l.body.2.bias", "l.body.0.weight", "l.body.0.bias"])
        check(layer, input: randomTensor([3, 4], seed: 15), store: store)
    }

    func testSoftmaxCrossEntropyGradient() {
        let loss = SoftmaxCrossEntropy()
        let targets = Tensor(shape: [4], values: [2, -1, 0, 4])
        assertLayerGradientsMatch(
            input: randomTensor([4, 5], seed: 16, scale: 2),
            forward: { logits in
                Tensor(shape: [1], values: [loss.forward(logits, targets: targets).loss])
            },
            backward: { probe in
                let g = loss.backward(scale: probe[0]).clone()
                for j in 0..<5 { XCTAssertEqual(g[5 + j], 0, "ignored row must get no gradient") }
                return g
            })
    }

    func testMeanSquaredErrorGradient() {
        let loss = MeanSquaredError()
        let targets = randomTensor([3, 2], seed: 17)
        assertLayerGradientsMatch(
            input: randomTensor([3, 2], seed: 18),
            forward: { Tensor(shape: [1], values: [loss.forward($0, targets: targets).loss]) },
            backward: { loss.backward(scale: $0[0]) })
    }
}
