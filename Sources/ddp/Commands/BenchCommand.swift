import ArgumentParser
import Inference
import DataParallel
import Foundation
import MPI
import RunConfig
import TensorCore
import Training

/// `ddp bench`: measurements printed as JSON.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks: allreduce bandwidth, sgemm throughput, training steps, inference.",
        subcommands: [Allreduce.self, Gemm.self, Train.self, Infer.self]
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
                    throw ExitCode(JobExitCode.userError)
                }
                bytes.append(value)
            }
            let report = try AllreduceBenchmark.run(sizesInBytes: bytes.isEmpty ? AllreduceBenchmark.defaultSizes : bytes,
                                                    iterations: iterations)
            guard world.rank == 0 else { return }
            if json {
                printJSON(report)
                return
            }
            let acrossHosts = (report.network?.hosts ?? 1) > 1
            if let network = report.network, acrossHosts {
                print("hosts: " + zip(network.hostNames, network.ranksPerHost).map { "\($0) (\($1) ranks)" }.joined(separator: ", ")
                      + "; raw TCP: " + (network.rawTCPGBs.map { String(format: "%.2f GB/s one way", $0) } ?? "not measured")
                      + (network.rawTCPBothWaysGBs.map { String(format: ", %.2f GB/s each way at once", $0) } ?? ""))
            }
            print("bytes        ranks  swift_us   swift_busbw_GBs  raw_us     raw_busbw_GBs  swift/raw"
                  + (acrossHosts ? "  busbw/tcp  busbw/tcp2  sent/host/call  minimum" : ""))
            for row in report.rows {
                var line = String(format: "%-12d %-6d %-10.1f %-16.2f %-10.1f %-14.2f %.3f", row.bytes, row.ranks,
                                  row.swiftLatencyMicroseconds, row.swiftBusBandwidth,
                                  row.rawLatencyMicroseconds ?? .nan, row.rawBusBandwidth ?? .nan,
                                  row.swiftToRawRatio ?? .nan)
                if acrossHosts {
                    line += String(format: "      %-10.3f %-11.3f %-15.0f %.0f", row.busBandwidthToRawTCP ?? .nan,
                                   row.busBandwidthToRawTCPBothWays ?? .nan,
                                   row.sentBytesPerCallPerHost ?? .nan, row.minimumBytesPerCallPerHost ?? .nan)
                }
                print(line)
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

extension BenchCommand {
    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Training throughput of a config through the real trainer, under mpirun or alone.",
            discussion: """
                Prints JSON: samples (and tokens) per second, step time split into compute and
                exposed communication, allreduce bus bandwidth inside the step, and model FLOP
                utilization against single-thread sgemm at 1024^3: the best of products taken
                before, between and after the timed steps in the same run. --profile adds each
                kernel's share of the step on rank 0.
                  mpirun -np 2 ddp bench train --config configs/bench-mlp.yaml
                  ddp bench train --config configs/bench-gpt.yaml --profile
                """)

        @Option(name: .long, help: "The YAML run config, e.g. configs/bench-mlp.yaml.")
        var config: String

        @Option(name: .customLong("set"), help: "Override a key: --set parallel.bucket_mb=8 (repeatable).")
        var overrides: [String] = []

        @Option(name: .long, help: ArgumentHelp("Who drives MPI progress during backward.", valueName: "thread|polling"))
        var progress: ProgressMode = .polling

        @Option(name: .long, help: "Untimed steps first.")
        var warmup = 3

        @Option(name: .long, help: "Timed steps (default: the config's training.steps).")
        var steps: Int?

        @Flag(name: .long, help: ArgumentHelp(
            "Also measure the speedup over one rank inside this job: rounds alternate rank 0 training alone "
                + "at the per-rank batch and all ranks together (needs 2 or more ranks)."))
        var againstOneRank = false

        @Option(name: .long, help: "Rounds of the one-rank comparison; the median ratio is reported.")
        var rounds = 5

        @Option(name: .long, help: "Profiled steps with --profile.")
        var profileSteps = 5

        @Flag(name: .long, help: ArgumentHelp(
            "Also profile steps after the timed ones: each kernel's share of the step on rank 0, "
                + "and each matmul family's GFLOP/s beside the sgemm reference."))
        var profile = false

        func validate() throws {
            guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1, got \(rounds)") }
            guard warmup >= 0 else { throw ValidationError("--warmup must not be negative, got \(warmup)") }
            if let steps, steps < 1 { throw ValidationError("--steps must be at least 1, got \(steps)") }
            guard profileSteps >= 1 else { throw ValidationError("--profile-steps must be at least 1, got \(profileSteps)") }
        }

        func run() throws {
            // The communication thread calls MPI from a second thread; ask for
            // that before startWorld's default initialization.
            if progress == .thread { _ = try? MPI.initialize(threadLevel: .serialized) }
            let world = try startWorld()
            let mode = (MPI.providedThreadLevel ?? .single) >= .serialized ? progress : .polling
            if againstOneRank && world.size < 2 {
                printError("--against-one-rank compares with the ranks of this job; start it with mpirun -np 2 or more")
                throw ExitCode(JobExitCode.userError)
            }
            try runOnAllRanks(world) {
                let resolved = try ResolvedConfig.load(path: config, overrides: overrides)
                let timedSteps = steps ?? resolved.run.training.steps
                var report = try TrainBenchmark.run(config: resolved, world: world, progress: mode,
                                                    warmup: warmup, steps: timedSteps,
                                                    profileSteps: profile ? profileSteps : 0)
                if againstOneRank {
                    let perRank = resolved.run.training.batchSize / world.size
                    let alone = try ResolvedConfig.load(path: config, overrides: overrides + ["training.batch_size=\(perRank)"])
                    report.scaling = try ScalingBenchmark.run(config: resolved, oneRankConfig: alone, world: world,
                                                              progress: mode, warmup: warmup, steps: timedSteps,
                                                              rounds: rounds)
                }
                if world.rank == 0 { printJSON(report) }
            }
        }
    }

    struct Infer: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Latency, throughput and generation speed of checkpoints side by side, as JSON.",
            discussion: """
                Each batch size is timed on every checkpoint in turn, so all see the same drift of a shared host;
                the first checkpoint is the reference of the ratios. Language models also generate --tokens tokens
                after --prompt (greedy), with the key-value cache and without it, in alternating rounds.
                Example: ddp bench infer --checkpoint runs/mlp --checkpoint runs/mlp-int8 --eval
                """)

        @Option(name: .long, help: "A checkpoint or run directory (repeatable; the first is the reference).")
        var checkpoint: [String] = []

        @Option(name: .long, parsing: .upToNextOption, help: "Batch sizes to time.")
        var batches: [Int] = [1, 16, 256]

        @Option(name: .long, help: "Timed calls per checkpoint at batch 1 (fewer at larger batches, at least 15).")
        var rounds: Int = 200

        @Option(name: .long, help: "The prompt of the generation measurement.")
        var prompt: String = "ROMEO:"

        @Option(name: .long, help: "Tokens generated per measurement.")
        var tokens: Int = 200

        @Flag(name: .long, help: "Also evaluate each checkpoint on its held-out split (needs the data set).")
        var eval = false

        @Option(name: .customLong("data-dir"), help: "Where the data sets are.")
        var dataDirectory: String?

        func validate() throws {
            guard !checkpoint.isEmpty else { throw ValidationError("give at least one --checkpoint") }
            guard !batches.isEmpty, batches.allSatisfy({ (1...65_536).contains($0) }) else {
                throw ValidationError("--batches must be sizes in 1...65536")
            }
            guard (1...100_000).contains(rounds) else { throw ValidationError("--rounds must be in 1...100000") }
            guard (1...100_000).contains(tokens) else { throw ValidationError("--tokens must be in 1...100000") }
            guard !prompt.isEmpty else { throw ValidationError("--prompt must not be empty") }
        }

        func run() throws {
            var sessions: [InferenceSession] = []
            try exitOnUserError {
                sessions = try checkpoint.map { try InferenceSession(path: $0, dataDirectory: dataDirectory) }
                let report = try InferenceBenchmark.run(sessions, batches: batches, rounds: rounds, prompt: prompt,
                                                        newTokens: tokens, evaluate: eval)
                printJSON(report)
            }
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
