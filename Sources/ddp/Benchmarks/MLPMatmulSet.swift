// The matrix products of one MLP step alone, with the step's own layouts and
// transposes (so the same library multiplies each), for the step-to-matmul
// ratio of `ddp bench train`.

import NeuralNet
import TensorCore

/// The GEMMs one MLP step runs at a batch: forward, weight gradient, and input
/// gradient except for the first layer.
struct MLPMatmulSet {
    private struct Product {
        let a: Tensor, transposeA: Bool, b: Tensor, transposeB: Bool, c: Tensor
    }
    private let products: [Product]
    private(set) var seconds: [Double] = []

    init(parameters: ParameterStore, batch: Int) {
        // Weights are [outputs, inputs]; the layout lists the last layer first.
        let weights = parameters.parameters.filter { $0.shape.count == 2 }.map { (outputs: $0.shape[0], inputs: $0.shape[1]) }
        var products: [Product] = []
        for (index, w) in weights.enumerated() {
            let x = SgemmReference.filled([batch, w.inputs]), weight = SgemmReference.filled([w.outputs, w.inputs])
            let dy = SgemmReference.filled([batch, w.outputs])
            // Y = X Wᵀ; dW = dYᵀ X; dX = dY W.
            products.append(Product(a: x, transposeA: false, b: weight, transposeB: true, c: Tensor(zeros: [batch, w.outputs])))
            products.append(Product(a: dy, transposeA: true, b: x, transposeB: false, c: Tensor(zeros: [w.outputs, w.inputs])))
            if index < weights.count - 1 {
                products.append(Product(a: dy, transposeA: false, b: weight, transposeB: false, c: Tensor(zeros: [batch, w.inputs])))
            }
        }
        self.products = products
        run()
    }

    /// Times one pass over the products.
    mutating func sample() {
        let clock = Stopwatch()
        run()
        seconds.append(clock.elapsedSeconds)
    }

    /// The median pass.
    var medianSeconds: Double { seconds.sorted()[seconds.count / 2] }

    private func run() {
        for p in products { matmul(p.a, transposeA: p.transposeA, p.b, transposeB: p.transposeB, into: p.c) }
    }
}
