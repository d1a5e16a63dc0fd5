import XCTest

final class NeuralNetTestsPlaceholder: XCTestCase {
    func testBuilds() {}
}
