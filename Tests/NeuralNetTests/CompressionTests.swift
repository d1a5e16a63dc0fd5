import XCTest
import TensorCore
@testable import NeuralNet

/// Pruning, int8 quantization, truncated SVD and the inference networks.
final class CompressionTests: XCTestCase {
    // MARK: Pruning

    func testGlobalPruningHitsTheTargetExactly() {
        let model = MLP(inputs: 13, hidden: [17, 11], outputs: 5)
        model.initializeParameters(seed: 3)
        for sparsity in [0.0, 0.1, 0.5, 0.731, 0.9, 1.0] {
            let mask = MagnitudePruning.mask(for: model.parameters, sparsity: sparsity, scope: .global)
            let candidates = MagnitudePruning.candidates(in: model.parameters)
            XCTAssertEqual(candidates.map(\.name).sorted(), ["layers.0.weight", "layers.1.weight", "layers.2.weight"])
            let n = 13 * 17 + 17 * 11 + 11 * 5
            XCTAssertEqual(mask.prunedCount, Int((sparsity * Double(n)).rounded()))
            let pruned = clone(model.parameters)
            mask.apply(to: pruned)
            XCTAssertEqual(zeros(pruned, candidates), mask.prunedCount)
            // Biases are never touched, and every kept weight is at least as large as every pruned one.
            for p in pruned.parameters where !p.decays {
                XCTAssertEqual(pruned.value(p.name).array, model.parameters.value(p.name).array)
            }
            let removed = candidates.flatMap { p in p.range.filter { mask.keep[$0] == 0 } }
            let kept = candidates.flatMap { p in p.range.filter { mask.keep[$0] == 1 } }
            let largestRemoved = removed.map { abs(model.parameters.values[$0]) }.max() ?? 0
            let smallestKept = kept.map { abs(model.parameters.values[$0]) }.min() ?? .infinity
            XCTAssertLessThanOrEqual(largestRemoved, smallestKept)
        }
    }

    func testLayerPruningHitsTheTargetInEveryMatrixAndBreaksTies() {
        let store = ParameterStore([("a.weight", [4, 10], true), ("a.bias", [4], false), ("b.weight", [3, 5], true)])
        // Many equal magnitudes: the threshold value is shared by more weights than the quota needs.
        for i in 0..<store.count { store.values[i] = Float(i % 3) * (i % 2 == 0 ? 1 : -1) }
        let mask = MagnitudePruning.mask(for: store, sparsity: 0.5, scope: .layer)
        XCTAssertEqual(mask.prunedCount, 20 + 8)
        let a = store.info("a.weight"), b = store.info("b.weight")
        XCTAssertEqual(a.range.filter { mask.keep[$0] == 0 }.count, 20)
        XCTAssertEqual(b.range.filter { mask.keep[$0] == 0 }.count, 8)
        XCTAssertEqual(store.info("a.bias").range.filter { mask.keep[$0] == 0 }.count, 0)
        mask.apply(to: store)
        XCTAssertEqual(MagnitudePruning.sparsity(of: store, parameters: [b]), 8.0 / 15.0, accuracy: 1e-12)
    }

    // MARK: Int8

    func testInt8RoundTripErrorIsAtMostHalfAStep() {
        let weight = randomTensor([37, 53], seed: 5, scale: 0.3)
        weight[53 * 4 + 7] = 4  // an outlier row
        for j in 0..<53 { weight[53 * 9 + j] = 0 }  // an all-zero row
        let q = QuantizedMatrix(quantizing: weight)
        let restored = q.dequantized()
        XCTAssertEqual(q.byteCount, 37 * 53 + 37 * 4)
        for i in 0..<37 {
            let largest = (0..<53).map { abs(weight[i * 53 + $0]) }.max()!
            XCTAssertEqual(q.scales[i], largest / 127, accuracy: largest * 1e-6)
            for j in 0..<53 {
                let error = abs(weight[i * 53 + j] - restored[i * 53 + j])
                XCTAssertLessThanOrEqual(error, q.scales[i] / 2 * (1 + 1e-5) + 1e-12, "element \(i),\(j)")
                XCTAssertLessThanOrEqual(abs(Int(q.values[i * 53 + j])), 127)
            }
        }
        XCTAssertEqual(restored.rows(9..<10).array, [Float](repeating: 0, count: 53))
    }

    func testQuantizedLinearMatchesTheDequantizedDenseLayer() {
        let weight = randomTensor([29, 70], seed: 6, scale: 0.2)
        let bias = randomTensor([29], seed: 7)
        let q = QuantizedMatrix(quantizing: weight)
        let reference = DenseLinear(weight: q.dequantized(), bias: bias)
        let float = DenseLinear(weight: weight, bias: bias)
        let layer = QuantizedLinear(weight: q, bias: bias)
        for batch in [1, 3, 4, 5, 33] {
            let x = randomTensor([batch, 70], seed: UInt64(10 + batch))
            let y = layer.forward(x).array, expected = reference.forward(x).array, exact = float.forward(x).array
            for r in 0..<batch {
                // The activations' rounding: at most half a step of each row's grid per input.
                let row = x.array[(r * 70)..<((r + 1) * 70)]
                let step = (max(0, row.max()!) - min(0, row.min()!)) / Float(Int8Product.activationLevels)
                for j in 0..<29 {
                    let i = r * 29 + j
                    let bound = (0..<70).reduce(Float(0)) { $0 + abs(q.dequantized().array[j * 70 + $1]) } * step / 2
                    XCTAssertEqual(y[i], expected[i], accuracy: bound * 1.001 + 1e-5, "batch \(batch), element \(i)")
                    // Against the float layer, the weights' rounding adds Σ|x|·scale/2.
                    XCTAssertEqual(y[i], exact[i], accuracy: 0.1, "batch \(batch), element \(i)")
                }
            }
        }
    }

    // MARK: Low rank

    func testSVDReconstructsAndTruncationErrorIsTheDroppedEnergy() throws {
        for (rows, columns) in [(24, 15), (9, 31)] {
            let w = randomTensor([rows, columns], seed: UInt64(rows * columns))
            let svd = try SingularValueDecomposition(w)
            let s = svd.singularValues
            XCTAssertEqual(s.count, min(rows, columns))
            XCTAssertEqual(s, s.sorted(by: >))
            let full = try XCTUnwrap(LowRankFactors(u: scaled(svd.left, by: s), v: svd.rightTransposed, singularValues: s))
            XCTAssertLessThan(frobeniusSquared(w, full.reconstructed()), 1e-8 * frobeniusSquared(w, Tensor(zeros: w.shape)))
            for r in [1, 3, 6] {
                let factors = try XCTUnwrap(LowRankFactorization.factorize(w, choice: .fixed(r)))
                XCTAssertEqual(factors.u.shape, [rows, r])
                XCTAssertEqual(factors.v.shape, [r, columns])
                let dropped = s[r...].reduce(0.0) { $0 + Double($1) * Double($1) }
                XCTAssertEqual(factors.droppedEnergy, dropped, accuracy: dropped * 1e-6)
                XCTAssertEqual(frobeniusSquared(w, factors.reconstructed()), dropped, accuracy: dropped * 1e-3)
            }
        }
    }

    func testRankByEnergyAndSkippingUnprofitableFactorizations() throws {
        let s: [Float] = [4, 2, 1, 1]  // energies 16, 4, 1, 1 of 22
        XCTAssertEqual(LowRankFactorization.rank(of: s, choice: .energy(0.7)), 1)
        XCTAssertEqual(LowRankFactorization.rank(of: s, choice: .energy(0.73)), 2)
        XCTAssertEqual(LowRankFactorization.rank(of: s, choice: .energy(0.9)), 2)
        XCTAssertEqual(LowRankFactorization.rank(of: s, choice: .energy(0.95)), 3)
        XCTAssertEqual(LowRankFactorization.rank(of: s, choice: .energy(1)), 4)
        XCTAssertEqual(LowRankFactorization.rank(of: s, choice: .fixed(9)), 4)
        // A rank-2 matrix plus nothing: energy 0.99 keeps rank 2.
        let a = randomTensor([20, 2], seed: 41), b = randomTensor([2, 30], seed: 42)
        let factors = try XCTUnwrap(LowRankFactorization.factorize(matmul(a, b), choice: .energy(0.99)))
        XCTAssertEqual(factors.rank, 2)
        // 8x8 at rank 4 stores 64 weights, no fewer than the matrix: skipped.
        XCTAssertNil(try LowRankFactorization.factorize(randomTensor([8, 8], seed: 43), choice: .fixed(4)))
        XCTAssertNotNil(try LowRankFactorization.factorize(randomTensor([8, 8], seed: 43), choice: .fixed(3)))
    }

    // MARK: Inference networks

    func testDenseInferenceNetworksMatchTheTrainableModels() {
        let mlp = MLP(inputs: 12, hidden: [9, 7], outputs: 4, activation: .gelu, dropout: 0.3)
        mlp.initializeParameters(seed: 8)
        let linears = (0..<3).map { i in
            (weights: LinearWeights.full(.dense(mlp.parameters.value("layers.\(i).weight"))),
             bias: Optional(mlp.parameters.value("layers.\(i).bias")))
        }
        let network = InferenceNetwork.mlp(linears: linears, activation: .gelu)
        XCTAssertEqual(network.parameterCount, mlp.parameters.count)
        let x = randomTensor([6, 12], seed: 9)
        assertClose(network.logits(x), mlp.logits(inputs: x), tolerance: 1e-6)

        let configuration = LeNet.Configuration(imageSize: 12, conv1Channels: 2, conv2Channels: 3, kernel: 3, hidden: 5, classes: 4)
        let lenet = LeNet(configuration)
        lenet.initializeParameters(seed: 10)
        let p = lenet.parameters
        func conv(_ name: String) -> (weights: MatrixWeights, bias: Tensor) { (.dense(p.value(name + ".weight")), p.value(name + ".bias")) }
        let cnn = InferenceNetwork.lenet(configuration, conv1: conv("conv1"), conv2: conv("conv2"),
                                         fc1: (.full(.dense(p.value("fc1.weight"))), p.value("fc1.bias")),
                                         fc2: (.full(.dense(p.value("fc2.weight"))), p.value("fc2.bias")))
        XCTAssertEqual(cnn.inputShape, [1, 12, 12])
        XCTAssertEqual(cnn.parameterCount, p.count)
        let images = randomTensor([3, 144], seed: 11)
        assertClose(cnn.logits(images), lenet.logits(inputs: images), tolerance: 1e-5)

        // int8 convolutions (padded and strided too) against Float32 ones with the same restored weights.
        for (stride, padding) in [(1, 0), (2, 1), (1, 2)] {
            let float = Conv2d(inChannels: 3, outChannels: 5, kernel: 3, stride: stride, padding: padding)
            let weight = randomTensor([5, 3, 3, 3], seed: 20, scale: 0.3), bias = randomTensor([5], seed: 21)
            let q = QuantizedMatrix(quantizing: weight)
            let reference = FrozenLayer(float, parameters: ["weight": q.dequantized().reshaped([5, 3, 3, 3]), "bias": bias])
            let int8 = QuantizedConv2d(weight: q, bias: bias, inChannels: 3, kernel: 3, stride: stride, padding: padding)
            var input = randomTensor([2, 3, 7, 6], seed: 22).array
            for i in 0..<(3 * 7 * 6) { input[i] = abs(input[i]) }  // image 0 non-negative, like ReLU outputs
            let x = Tensor(shape: [2, 3, 7, 6], values: input)
            let (got, expected) = (int8.forward(x), reference.forward(x))
            XCTAssertEqual(got.shape, expected.shape)
            // Fused ReLU and pooling: bit for bit the three layers.
            let fused = QuantizedConv2d(weight: q, bias: bias, inChannels: 3, kernel: 3, stride: stride, padding: padding, reluPool: 2)
            let chained = FrozenLayer(MaxPool2d(kernel: 2)).forward(FrozenLayer(ReLU()).forward(got.clone()))
            XCTAssertEqual(fused.forward(x).shape, chained.shape)
            XCTAssertEqual(fused.forward(x).array, chained.array, "stride \(stride) padding \(padding)")
            // Each image's grid: half a step per input of the patch, times the weights' magnitudes.
            let weightSum = (0..<5).map { o in (0..<27).reduce(Float(0)) { $0 + abs(q.dequantized().array[o * 27 + $1]) } }.max()!
            for b in 0..<2 {
                let image = input[(b * 126)..<((b + 1) * 126)]
                let step = (max(0, image.max()!) - min(0, image.min()!)) / Float(Int8Product.activationLevels)
                let plane = got.count / 10
                for i in (b * 5 * plane)..<((b + 1) * 5 * plane) {
                    XCTAssertEqual(got.array[i], expected.array[i], accuracy: weightSum * step / 2 * 1.001 + 1e-5,
                                   "stride \(stride) padding \(padding) element \(i)")
                }
            }
        }
    }

    func testCompressedMLPStaysCloseToTheFloatModel() throws {
        let mlp = MLP(inputs: 40, hidden: [64], outputs: 6)
        mlp.initializeParameters(seed: 12)
        let w0 = mlp.parameters.value("layers.0.weight"), w1 = mlp.parameters.value("layers.1.weight")
        // A rank-10 first layer: energy 1 keeps exactly its 10 nonzero singular values.
        w0.copy(from: matmul(randomTensor([64, 10], seed: 14, scale: 0.3), randomTensor([10, 40], seed: 15, scale: 0.3)))
        let factors = try XCTUnwrap(LowRankFactorization.factorize(w0, choice: .energy(1)))
        XCTAssertEqual(factors.rank, 10)
        let network = InferenceNetwork.mlp(linears: [
            (.factored(u: .int8(QuantizedMatrix(quantizing: factors.u)), v: .dense(factors.v)),
             mlp.parameters.value("layers.0.bias")),
            (.full(.int8(QuantizedMatrix(quantizing: w1))), mlp.parameters.value("layers.1.bias")),
        ], activation: .relu)
        XCTAssertEqual(network.layers.map(\.name), ["layers.0.v", "layers.0.u", "activations.0", "layers.1"])
        for batch in [1, 16] {
            let x = randomTensor([batch, 40], seed: 13)
            assertClose(network.logits(x), mlp.logits(inputs: x), tolerance: 0.05)
        }
    }

    // MARK: Helpers

    private func clone(_ store: ParameterStore) -> ParameterStore {
        let copy = ParameterStore(store.parameters.map { ($0.name, $0.shape, $0.decays) })
        copy.values.copy(from: store.values)
        return copy
    }

    private func zeros(_ store: ParameterStore, _ parameters: [ParameterInfo]) -> Int {
        parameters.reduce(0) { total, p in total + p.range.filter { store.values[$0] == 0 }.count }
    }

    private func scaled(_ left: Tensor, by s: [Float]) -> Tensor {
        let out = left.clone()
        let columns = left.shape[1]
        for i in 0..<left.count { out[i] *= s[i % columns] }
        return out
    }

    private func frobeniusSquared(_ a: Tensor, _ b: Tensor) -> Double {
        (0..<a.count).reduce(0.0) { $0 + Double(a[$1] - b[$1]) * Double(a[$1] - b[$1]) }
    }

    private func assertClose(_ a: Tensor, _ b: Tensor, tolerance: Float, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, file: file, line: line)
        for i in 0..<min(a.count, b.count) {
            XCTAssertEqual(a[i], b[i], accuracy: tolerance, "element \(i)", file: file, line: line)
        }
    }
}
