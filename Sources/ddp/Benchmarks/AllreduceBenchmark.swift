// Compares the MPI module's in-place Float allreduce with MPI_Allreduce
// called directly, to show that the Swift layer adds no copies, allocations
// or measurable overhead on the gradient-sized messages that matter.

import CMPI
import MPI

/// One message size: latency and bandwidth of the Swift and the raw path.
struct AllreduceBenchmarkRow: Codable, Sendable {
    /// Message size in bytes (Float32 elements × 4).
    var bytes: Int
    /// Ranks taking part.
    var ranks: Int
    /// Timed rounds per path, after the warm-up.
    var rounds: Int
    /// Allreduce calls per round (several for small messages, so a round is
    /// long enough to time reliably).
    var callsPerRound: Int
    /// Median over rounds of the slowest rank's time per call, Swift module.
    var swiftLatencyMicroseconds: Double
    /// `bytes / latency`, Swift module, GB/s.
    var swiftAlgorithmBandwidth: Double
    /// `algbw × 2(n-1)/n`, the per-link traffic of a ring allreduce, Swift module, GB/s.
    var swiftBusBandwidth: Double
    /// Same as `swiftLatencyMicroseconds`, for `MPI_Allreduce` called directly;
    /// `nil` when running without mpirun (MPI is then never initialized).
    var rawLatencyMicroseconds: Double?
    /// `bytes / latency`, raw MPI, GB/s.
    var rawAlgorithmBandwidth: Double?
    /// Bus bandwidth, raw MPI, GB/s.
    var rawBusBandwidth: Double?
    /// `swiftLatency / rawLatency`: 1.0 means no overhead.
    var swiftToRawRatio: Double?
    /// Across hosts: the bytes a host sent per call (largest over hosts),
    /// read from its interfaces' counters over every call of this size.
    var sentBytesPerCallPerHost: Double?
    /// Across hosts: the least a host must send per call, `2(H-1)/H x bytes`.
    var minimumBytesPerCallPerHost: Double?
    /// Across hosts: `swiftBusBandwidth` over the raw TCP stream's GB/s
    /// measured in the same run (`ddp bench allreduce` prints it).
    var busBandwidthToRawTCP: Double?
    /// Across hosts: `swiftBusBandwidth` over raw TCP with one stream each
    /// way at once (the slower direction): what a two-host allreduce's
    /// traffic can get from the same hosts.
    var busBandwidthToRawTCPBothWays: Double?
}

/// What `ddp bench allreduce --json` prints.
struct AllreduceBenchmarkReport: Codable, Sendable {
    /// The hosts and one raw TCP stream between two of them.
    var network: NetworkReport?
    var rows: [AllreduceBenchmarkRow]
}

/// Interleaved allreduce timings of the Swift module against raw MPI.
struct AllreduceBenchmark {
    /// 4 KiB to 64 MiB by powers of 4 (which includes 1, 4 and 16 MiB).
    static let defaultSizes: [Int] = (0..<8).map { 4096 << (2 * $0) }

    /// Times in-place Float sums at every size on `MPI.world`. Collective:
    /// every rank must call it with the same arguments.
    ///
    /// Each round runs the two paths back to back, alternating which goes
    /// first, so machine noise hits both alike. A barrier precedes each timed
    /// part; the time of a round is the maximum over ranks; the reported
    /// latency is the median over rounds.
    ///
    /// - Parameters:
    ///   - sizesInBytes: Message sizes; each a positive multiple of 4.
    ///   - iterations: Timed rounds per size, or `nil` to scale with size so
    ///     that the default sizes finish in well under 30 s on two ranks.
    /// - Returns: One row per size, in order.
    static func run(sizesInBytes: [Int] = defaultSizes, iterations: Int? = nil) throws -> AllreduceBenchmarkReport {
        precondition(sizesInBytes.allSatisfy { $0 > 0 && $0 % 4 == 0 },
                     "AllreduceBenchmark: sizes must be positive multiples of 4 bytes, got \(sizesInBytes)")
        precondition(iterations.map { $0 > 0 } ?? true, "AllreduceBenchmark: iterations must be positive")
        let world = MPI.world
        let network = world.isLocal ? nil : try NetworkMeasurement(world: world)
        // Raw TCP before and after the sizes, the better of the two: the host's speed drifts.
        let tcpBefore = try network?.rawTCPThroughput()
        var rows = try sizesInBytes.map { bytes in
            try measure(bytes: bytes, rounds: iterations ?? defaultRounds(bytes: bytes), world: world, network: network)
        }
        let tcpAfter = try network?.rawTCPThroughput()
        let samples = [tcpBefore, tcpAfter].compactMap { $0 ?? nil }
        let tcp = samples.isEmpty ? nil
            : (oneWay: samples.map(\.oneWay).max()!, bothWays: samples.map(\.bothWays).max()!)
        if let tcp {
            for index in rows.indices {
                rows[index].busBandwidthToRawTCP = rows[index].swiftBusBandwidth / tcp.oneWay
                rows[index].busBandwidthToRawTCPBothWays = rows[index].swiftBusBandwidth / tcp.bothWays
            }
        }
        let report = network.map { $0.layoutReport(rawTCP: tcp) }
        return AllreduceBenchmarkReport(network: report, rows: rows)
    }

    /// About 1 GiB of traffic per path and size, between 10 and 200 rounds.
    static func defaultRounds(bytes: Int) -> Int {
        min(200, max(10, (1 << 30) / bytes))
    }

    private static func measure(bytes: Int, rounds: Int, world: Communicator,
                                network: NetworkMeasurement?) throws -> AllreduceBenchmarkRow {
        let count = bytes / MemoryLayout<Float>.stride
        // Below 256 KiB one call takes microseconds; repeat it within a round.
        let calls = max(1, min(32, (256 << 10) / bytes))
        // Zeros stay zeros under repeated summation: no overflow, no denormals.
        let swiftBuffer = MPIBuffer<Float>(count: count, repeating: 0)
        let rawBuffer = MPIBuffer<Float>(count: count, repeating: 0)
        let swiftSlice = swiftBuffer.buffer
        let raw = !world.isLocal

        func timeSwift() throws -> Double {
            try world.barrier()
            let start = MPI.wallTime()
            for _ in 0..<calls { try world.allReduce(swiftSlice, op: .sum) }
            return MPI.wallTime() - start
        }
        func timeRaw() throws -> Double {
            try world.barrier()
            let start = MPI_Wtime()
            for _ in 0..<calls {
                let code = MPI_Allreduce(cmpi_in_place(), rawBuffer.baseAddress, Int32(count), cmpi_float(),
                                         cmpi_op_sum(), cmpi_comm_world())
                guard code == MPI_SUCCESS else { throw AllreduceBenchmarkError.rawCallFailed(code: code) }
            }
            return MPI_Wtime() - start
        }

        let warmup = max(2, min(10, rounds / 10))
        try network?.start()
        for _ in 0..<warmup {
            _ = try timeSwift()
            if raw { _ = try timeRaw() }
        }
        var swiftTimes = [Double](repeating: 0, count: rounds)
        var rawTimes = [Double](repeating: 0, count: rounds)
        for round in 0..<rounds {
            if round % 2 == 0 || !raw {
                swiftTimes[round] = try timeSwift()
                if raw { rawTimes[round] = try timeRaw() }
            } else {
                rawTimes[round] = try timeRaw()
                swiftTimes[round] = try timeSwift()
            }
        }
        let totalCalls = (warmup + rounds) * calls * (raw ? 2 : 1)
        let traffic = try network?.finish(steps: totalCalls, gradientBytes: bytes, measureTCP: false)
        // A round lasts until its slowest rank finishes.
        try world.allReduce(&swiftTimes, op: .max)
        try world.allReduce(&rawTimes, op: .max)

        let ranks = world.size
        let busFactor = ranks > 1 ? 2 * Double(ranks - 1) / Double(ranks) : 0
        let swiftLatency = median(swiftTimes) / Double(calls)
        let swiftAlgorithm = Double(bytes) / swiftLatency / 1e9
        var row = AllreduceBenchmarkRow(
            bytes: bytes, ranks: ranks, rounds: rounds, callsPerRound: calls,
            swiftLatencyMicroseconds: swiftLatency * 1e6,
            swiftAlgorithmBandwidth: swiftAlgorithm,
            swiftBusBandwidth: swiftAlgorithm * busFactor)
        if raw {
            let rawLatency = median(rawTimes) / Double(calls)
            let rawAlgorithm = Double(bytes) / rawLatency / 1e9
            row.rawLatencyMicroseconds = rawLatency * 1e6
            row.rawAlgorithmBandwidth = rawAlgorithm
            row.rawBusBandwidth = rawAlgorithm * busFactor
            row.swiftToRawRatio = swiftLatency / rawLatency
        }
        row.sentBytesPerCallPerHost = traffic?.sentBytesPerStepPerHost?.max()
        row.minimumBytesPerCallPerHost = traffic?.minimumBytesPerStepPerHost
        return row
    }

    private static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}

/// A failure of the raw `MPI_Allreduce` path, which bypasses `MPIError`.
enum AllreduceBenchmarkError: Error, CustomStringConvertible {
    case rawCallFailed(code: Int32)

    var description: String {
        switch self {
        case .rawCallFailed(let code): return "MPI_Allreduce returned error code \(code)"
        }
    }
}
