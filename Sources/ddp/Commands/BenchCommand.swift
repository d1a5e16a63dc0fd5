import ArgumentParser
import Foundation
import MPI
import TensorCore

/// `ddp bench`: measurements printed as JSON.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks: allreduce bandwidth, sgemm throughput, training steps.",
        subcommands: [Allreduce.self, Gemm.self]
    )

    struct Allreduce: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Latency and bus bandwidth of the Swift module's allreduce, beside raw MPI_Allreduce.")

        @Option(name: .long, parsing: .upToNextOption,
                help: "Message sizes, e.g. 4KiB 1MiB 16MiB (default 4 KiB to 64 MiB).")
        var sizes: [String] = []

        @Option(name: .long, help: "Timed rounds per size (default: adapted to the size).")
        var iterations: Int?

        @Flag(name: .long, help: "Print JSON instead of a table.")
        var json = false

        func run() throws {
            let world = try startWorld()
            var bytes: [Int] = []
            for text in sizes {
                guard let value = parseByteSize(text), value >= 4 else {
                    if world.rank == 0 { printError("--sizes: '\(text)' is not a size like 4KiB, 1MiB or 65536") }
                    throw ExitCode(2)
                }
                bytes.append(value)
            }
            let rows = try AllreduceBenchmark.run(sizesInBytes: bytes.isEmpty ? AllreduceBenchmark.defaultSizes : bytes,
                                                  iterations: iterations)
            guard world.rank == 0 else { return }
            if json {
                printJSON(rows)
            } else {
                print("bytes        ranks  swift_us   swift_busbw_GBs  raw_us     raw_busbw_GBs  swift/raw")
                for row in rows {
                    print(String(format: "%-12d %-6d %-10.1f %-16.2f %-10.1f %-14.2f %.3f", row.bytes, row.ranks,
                                 row.swiftLatencyMicroseconds, row.swiftBusBandwidth,
                                 row.rawLatencyMicroseconds ?? .nan, row.rawBusBandwidth ?? .nan,
                                 row.swiftToRawRatio ?? .nan))
                }
            }
        }
    }

    struct Gemm: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Single-thread sgemm GFLOP/s at square and MLP shapes, with a correctness check.")

        @Flag(name: .long, help: "Print JSON (the default output).")
        var json = false

        func run() throws {
            let world = try startWorld()
            let report = GemmBenchmark.run()
            if world.rank == 0 { printJSON(report) }
        }
    }
}

/// Prints `value` as pretty JSON with sorted keys.
func printJSON<T: Encodable>(_ value: T) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    if let data = try? encoder.encode(value), let text = String(data: data, encoding: .utf8) {
        print(text)
    }
}

/// Parses `4096`, `4KiB`, `1MiB`, `16M`.
func parseByteSize(_ text: String) -> Int? {
    let lower = text.lowercased()
    let units: [(String, Int)] = [("kib", 1 << 10), ("mib", 1 << 20), ("gib", 1 << 30), ("k", 1 << 10), ("m", 1 << 20), ("g", 1 << 30)]
    for (suffix, factor) in units where lower.hasSuffix(suffix) {
        return Int(lower.dropLast(suffix.count)).map { $0 * factor }
    }
    return Int(lower)
}
