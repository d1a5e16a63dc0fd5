import Foundation
import TensorCore
import XCTest

final class KernelProfileTests: XCTestCase {
    override func tearDown() {
        KernelProfile.stop()
        super.tearDown()
    }

    /// Nested regions keep exclusive time: the outer region does not count
    /// the inner one, and the two add up to the time inside the outer.
    func testNestedRegionsKeepExclusiveTime() {
        let outer = ProfileRegion("test outer", group: .other)
        let inner = ProfileRegion("test inner", group: .matmul)
        KernelProfile.start()
        let clock = Stopwatch()
        KernelProfile.measure(outer) {
            usleep(20_000)
            KernelProfile.measure(inner, flops: 1e6) { usleep(40_000) }
            KernelProfile.measure(inner, flops: 1e6) { usleep(40_000) }
        }
        let wall = clock.elapsedSeconds
        KernelProfile.stop()
        let entries = KernelProfile.entries()
        let o = try! XCTUnwrap(entries.first { $0.name == "test outer" })
        let i = try! XCTUnwrap(entries.first { $0.name == "test inner" })
        XCTAssertEqual(i.calls, 2)
        XCTAssertEqual(i.flops, 2e6)
        XCTAssertEqual(i.group, .matmul)
        XCTAssertGreaterThanOrEqual(i.seconds, 0.08)
        XCTAssertGreaterThanOrEqual(o.seconds, 0.02)
        XCTAssertLessThan(o.seconds, 0.06, "the outer region counted the inner one")
        XCTAssertLessThanOrEqual(o.seconds + i.seconds, wall)
    }

    /// Nothing is recorded while stopped, nor on another thread.
    func testRecordsOnlyWhileEnabledOnItsThread() {
        let region = ProfileRegion("test quiet", group: .kernel)
        KernelProfile.measure(region) {}
        KernelProfile.start()
        let other = Thread { KernelProfile.measure(region) {} }
        other.start()
        while !other.isFinished { usleep(1_000) }
        KernelProfile.stop()
        KernelProfile.measure(region) {}
        XCTAssertNil(KernelProfile.entries().first { $0.name == "test quiet" })
    }

    /// The same name is the same region.
    func testNamesRegisterOnce() {
        XCTAssertEqual(ProfileRegion("test same", group: .kernel), ProfileRegion("test same", group: .kernel))
        XCTAssertEqual(MatmulFamily("test family").forward.name, "test family forward")
    }
}
