import NeuralNet
import TensorCore
import XCTest

final class OptimizerClippingTests: XCTestCase {
    private func store(gradients: [Float]) -> ParameterStore {
        let store = ParameterStore([
            (name: "w", shape: [2, 2], decays: true),
            (name: "b", shape: [gradients.count - 4], decays: false),
        ])
        setOptimizerTestGradients(store, gradients)
        return store
    }

    func testSumOfSquaresAndNorm() {
        let s = store(gradients: [3, 4, 0, 0, 12, 0, 1]) // 9 + 16 + 144 + 1 = 170
        XCTAssertEqual(sumOfSquares(s.gradients), 170)
        XCTAssertEqual(sumOfSquares(s.gradients, range: 0..<2), 25)
        XCTAssertEqual(sumOfSquares(s.gradients, range: 4..<7), 145)
        XCTAssertEqual(sumOfSquares(s.gradients, range: 2..<2), 0)
        XCTAssertEqual(globalNorm(of: s.gradients, range: 0..<2), 5)
        XCTAssertEqual(globalNorm(of: s.gradients), Float(170.0.squareRoot()), accuracy: 1e-5)
    }

    func testBelowMaxIsUntouched() {
        let s = store(gradients: [3, 4, 0, 0, 0])
        let norm = clipGradients(s, maxNorm: 5.5)
        XCTAssertEqual(norm, 5)
        XCTAssertEqual(s.gradients.array, [3, 4, 0, 0, 0])
    }

    func testAboveMaxIsScaledToMax() {
        let s = store(gradients: [3, 4, 0, 0, 12, 0, 1])
        let norm = clipGradients(s, maxNorm: 1)
        XCTAssertEqual(norm, Float(170.0.squareRoot()), accuracy: 1e-5)
        XCTAssertEqual(globalNorm(of: s.gradients), 1, accuracy: 1e-5)
        // Direction is kept.
        XCTAssertEqual(s.gradients[1] / s.gradients[0], 4 / 3, accuracy: 1e-6)
        XCTAssertEqual(s.gradients[2], 0)
    }

    /// Under ZeRO each rank clips its own range with the norm of all ranks'
    /// squares; two ranges clipped that way must equal one full clip.
    func testShardedClipMatchesFull() {
        let g: [Float] = [3, -4, 0.5, 2, 12, -7, 1]
        let full = store(gradients: g)
        clipGradients(full, maxNorm: 2)
        let sharded = store(gradients: g)
        let squares = sumOfSquares(sharded.gradients, range: 0..<3) + sumOfSquares(sharded.gradients, range: 3..<7)
        let norm = Float(squares.squareRoot())
        XCTAssertTrue(clipGradients(sharded, maxNorm: 2, norm: norm, range: 0..<3))
        XCTAssertTrue(clipGradients(sharded, maxNorm: 2, norm: norm, range: 3..<7))
        XCTAssertEqual(full.gradients.array, sharded.gradients.array)
        XCTAssertFalse(clipGradients(sharded, maxNorm: 100, norm: 2, range: 0..<7))
    }

    func testNonFiniteNormIsNotScaled() {
        let s = store(gradients: [.nan, 1, 0, 0, 0])
        let norm = clipGradients(s, maxNorm: 1)
        XCTAssertTrue(norm.isNaN)
        XCTAssertEqual(s.gradients[1], 1)
        XCTAssertNil(clipCoefficient(norm: .infinity, maxNorm: 1))
        XCTAssertEqual(clipCoefficient(norm: 4, maxNorm: 2)!, 0.5, accuracy: 1e-6)
    }
}
