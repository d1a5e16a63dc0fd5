import TensorCore
import XCTest

/// `count` normally distributed values scaled by `scale`, fixed by `seed`.
func randomValues(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var rng = RandomGenerator(seed: seed)
    return (0..<count).map { _ in rng.nextNormal() * scale }
}

/// Asserts `|actual - expected| <= absolute + relative * |expected|` elementwise.
func assertClose(
    _ actual: [Float], _ expected: [Double],
    relative: Double = 1e-5, absolute: Double = 1e-6,
    _ message: @autoclosure () -> String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(actual.count, expected.count, "count differs \(message())", file: file, line: line)
    var failures = 0
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        let error = abs(Double(a) - e)
        if !(error <= absolute + relative * abs(e)) {
            failures += 1
            if failures <= 5 {
                XCTFail("index \(i): got \(a), expected \(e) \(message())", file: file, line: line)
            }
        }
    }
}

extension Array where Element == Float {
    /// Runs `body` with a mutable pointer to a copy-on-write-free buffer.
    mutating func withPointer<R>(_ body: (UnsafeMutablePointer<Float>) -> R) -> R {
        let count = self.count
        return withUnsafeMutableBufferPointer { buffer in
            // A zero-length array may have no base address; kernels given
            // count 0 must not touch the pointer, so any valid one works.
            if let base = buffer.baseAddress { return body(base) }
            var dummy: Float = .nan
            precondition(count == 0)
            return body(&dummy)
        }
    }
}
