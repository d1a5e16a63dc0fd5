import NeuralNet
import XCTest

final class OptimizerScheduleTests: XCTestCase {
    func testConstant() {
        let schedule = LearningRateSchedule.constant(0.3)
        XCTAssertEqual(schedule.learningRate(at: 0), 0.3)
        XCTAssertEqual(schedule.learningRate(at: 12345), 0.3)
    }

    func testStepDecay() {
        let schedule = LearningRateSchedule.stepDecay(base: 1, every: 10, gamma: 0.5)
        XCTAssertEqual(schedule.learningRate(at: 0), 1)
        XCTAssertEqual(schedule.learningRate(at: 9), 1)
        XCTAssertEqual(schedule.learningRate(at: 10), 0.5)
        XCTAssertEqual(schedule.learningRate(at: 29), 0.25)
        XCTAssertEqual(schedule.learningRate(at: 30), 0.125)
    }

    func testCosineWithWarmup() {
        let schedule = LearningRateSchedule.cosine(base: 1, warmupSteps: 10, totalSteps: 110, minimum: 0.1)
        // Warmup: (s + 1) / 10 of the base.
        XCTAssertEqual(schedule.learningRate(at: 0), 0.1, accuracy: 1e-7)
        XCTAssertEqual(schedule.learningRate(at: 4), 0.5, accuracy: 1e-7)
        XCTAssertEqual(schedule.learningRate(at: 9), 1, accuracy: 1e-7)
        // Cosine starts at the base, passes the midpoint of base and minimum
        // halfway, and ends at the minimum.
        XCTAssertEqual(schedule.learningRate(at: 10), 1, accuracy: 1e-7)
        let quarter: Double = 0.1 + 0.9 * 0.5 * (1 + 0.5.squareRoot())
        XCTAssertEqual(Double(schedule.learningRate(at: 35)), quarter, accuracy: 1e-6)
        XCTAssertEqual(schedule.learningRate(at: 60), 0.55, accuracy: 1e-6)
        XCTAssertEqual(schedule.learningRate(at: 109), 0.1, accuracy: 1e-3)
        XCTAssertGreaterThan(schedule.learningRate(at: 109), 0.1)
        XCTAssertEqual(schedule.learningRate(at: 110), 0.1)
        XCTAssertEqual(schedule.learningRate(at: 500), 0.1)
        // Monotone after warmup.
        for s in 10..<110 {
            XCTAssertGreaterThanOrEqual(schedule.learningRate(at: s), schedule.learningRate(at: s + 1))
        }
    }

    func testCosineWithoutWarmup() {
        let schedule = LearningRateSchedule.cosine(base: 2, warmupSteps: 0, totalSteps: 4, minimum: 0)
        XCTAssertEqual(schedule.learningRate(at: 0), 2)
        XCTAssertEqual(schedule.learningRate(at: 2), 1, accuracy: 1e-6)
        XCTAssertEqual(schedule.learningRate(at: 4), 0)
    }
}
