import MPI
import XCTest

/// The size-1 fallback: XCTest is not started by mpirun, so MPI is never
/// initialized and every collective must behave as on one rank.
final class LocalFallbackTests: XCTestCase {
    let world = MPI.world

    func testWorldIsLocalSizeOne() throws {
        XCTAssertFalse(MPI.isLaunched)
        XCTAssertTrue(world.isLocal)
        XCTAssertEqual(world.rank, 0)
        XCTAssertEqual(world.size, 1)
        let provided = try MPI.initialize(threadLevel: .multiple)
        XCTAssertEqual(provided, MPI.providedThreadLevel)
        XCTAssertFalse(MPI.processorName.isEmpty)
        XCTAssertTrue(MPI.libraryVersion.contains("Open MPI"), MPI.libraryVersion)
    }

    func testWallTimeAdvances() {
        let start = MPI.wallTime()
        usleep(2_000)
        XCTAssertGreaterThanOrEqual(MPI.wallTime() - start, 0.001)
    }

    func testBroadcastAndAllReduce() throws {
        var data: [Float] = [1, 2, 3]
        try world.broadcast(&data, root: 0)
        XCTAssertEqual(data, [1, 2, 3])
        XCTAssertEqual(try world.broadcast(Int64(9), root: 0), 9)

        for op in [ReductionOperation.sum, .max, .min, .product] {
            var values: [Int32] = [4, -5, 6]
            try world.allReduce(&values, op: op)
            XCTAssertEqual(values, [4, -5, 6])
        }
        XCTAssertEqual(try world.allReduce([2.5, 3.5] as [Double], op: .sum), [2.5, 3.5])
        XCTAssertEqual(try world.allSum(UInt16(7)), 7)

        let source: [UInt8] = [1, 2, 3, 4]
        var destination = [UInt8](repeating: 0, count: 4)
        try source.withUnsafeBufferPointer { from in
            try destination.withUnsafeMutableBufferPointer { try world.allReduce(from, into: $0, op: .max) }
        }
        XCTAssertEqual(destination, source)
    }

    func testGatherFamily() throws {
        XCTAssertEqual(try world.allGather([1, 2] as [Int64]), [1, 2])
        XCTAssertEqual(try world.allGather([5, 6, 7] as [Float], counts: [3]), [5, 6, 7])
        XCTAssertEqual(try world.allGather([] as [Float], counts: [0]), [])
        XCTAssertEqual(try world.reduceScatter([3, 4] as [Int32], op: .sum), [3, 4])
        XCTAssertEqual(try world.gather([8, 9] as [Double], root: 0), [8, 9])
        try world.barrier()
    }

    func testCommunicatorsStayLocal() throws {
        let duplicate = try world.duplicate()
        XCTAssertTrue(duplicate.isLocal)
        XCTAssertEqual(duplicate.size, 1)
        let sub = try world.split(color: 3, key: 7)
        XCTAssertTrue(sub.isLocal)
        XCTAssertEqual(sub.size, 1)
        XCTAssertEqual(sub.rank, 0)
        XCTAssertEqual(try sub.allSum(Int32(5)), 5)
    }

    func testNonblockingCompletesAtOnce() throws {
        let buffer = MPIBuffer<Float>([1, 2, 3, 4])
        let request = try world.startAllReduce(buffer, range: 1..<3, op: .sum)
        XCTAssertTrue(try request.test())
        try request.wait()
        XCTAssertEqual(buffer.array, [1, 2, 3, 4])

        let destination = MPIBuffer<Float>(count: 4, repeating: 0)
        let copy = try world.startAllReduce(buffer, into: destination, range: 1..<4, op: .sum)
        let broadcast = try world.startBroadcast(buffer, root: 0)
        try Request.waitAll([copy, broadcast])
        XCTAssertTrue(copy.isComplete && broadcast.isComplete)
        XCTAssertEqual(destination.array, [0, 2, 3, 4])
    }

    func testInvalidRootThrowsRootError() {
        var data: [Float] = [1]
        XCTAssertThrowsError(try data.withUnsafeMutableBufferPointer { try world._broadcastUnchecked($0, root: 1) }) {
            let error = $0 as? MPIError
            XCTAssertEqual(error?.errorClass, .root)
            XCTAssertEqual(error?.call, "MPI_Bcast")
        }
    }

    func testCustomReductionIsAcceptedLocally() throws {
        let op = try CustomReduction(commutative: true) { _, _, _, _ in }
        XCTAssertTrue(op.isCommutative)
        XCTAssertEqual(try world.allReduce([1, 2] as [Int32], op: .custom(op)), [1, 2])
    }

    func testMPIBuffer() {
        let buffer = MPIBuffer<Int32>(count: 3, repeating: 7)
        buffer[1] = 9
        XCTAssertEqual(buffer.array, [7, 9, 7])
        XCTAssertEqual(Int(bitPattern: buffer.baseAddress) % 64, 0)
        XCTAssertEqual(MPIBuffer<Double>([]).count, 0)
    }
}
