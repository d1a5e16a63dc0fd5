import DataPipeline
import XCTest

final class PreprocessingTests: XCTestCase {
    func table() -> TabularDataset {
        TabularDataset(features: [0, 10, 255, 30, 51, 20], featureCount: 2, labels: [0, 2, 1], classCount: 3)
    }

    func testScaleAndOneHot() {
        let data = table().preprocessed([.scale(1 / 255), .oneHot])
        XCTAssertEqual(data.targetShape, [3])
        let sample = data.sample(2)
        XCTAssertEqual(sample.input[0], 0.2, accuracy: 1e-6)
        XCTAssertEqual(sample.target, [0, 1, 0])
        XCTAssertEqual(data.sample(1).target, [0, 0, 1])
    }

    func testStandardizationFromTheData() {
        let base = table()
        let perFeature = Standardization(measuring: base, perFeature: true)
        XCTAssertEqual(perFeature.mean[0], 102, accuracy: 1e-4)
        XCTAssertEqual(perFeature.mean[1], 20, accuracy: 1e-4)
        let data = base.preprocessed([perFeature.step])
        var sums = [Float](repeating: 0, count: 2), squares = [Float](repeating: 0, count: 2)
        for i in 0..<data.count {
            let x = data.sample(i).input
            for f in 0..<2 { sums[f] += x[f]; squares[f] += x[f] * x[f] }
        }
        for f in 0..<2 {
            XCTAssertEqual(sums[f] / 3, 0, accuracy: 1e-5)
            XCTAssertEqual(squares[f] / 3, 1, accuracy: 1e-4)
        }
        let overall = Standardization(measuring: base, perFeature: false)
        XCTAssertEqual(overall.mean, [61])
    }

    func testConstantFeaturesAreLeftUnscaled() {
        let base = TabularDataset(features: [5, 1, 5, 2], featureCount: 2, labels: [0, 1], classCount: 2)
        let statistics = Standardization(measuring: base, perFeature: true)
        XCTAssertEqual(statistics.std[0], 1)
        XCTAssertEqual(base.preprocessed([statistics.step]).sample(0).input[0], 0)
    }

    func testShapesFlattenAndReshape() {
        let images = SyntheticClassification(count: 4, inputShape: [1, 4, 4], classCount: 2, seed: 3)
        let flat = images.preprocessed([.flatten])
        XCTAssertEqual(flat.inputShape, [16])
        XCTAssertEqual(flat.sample(1).input, images.sample(1).input)
        XCTAssertEqual(flat.preprocessed([.reshape([2, 8])]).inputShape, [2, 8])
    }
}
