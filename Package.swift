// swift-tools-version:6.0
//
// swift-ddp: distributed data-parallel training in Swift on OpenMPI and OpenBLAS.
// Targets are grouped by the architecture's layers; each imports only layers below it.

import Foundation
import PackageDescription

// The kernels' vector width. Swift compiles for the x86-64 baseline (SSE2)
// unless told otherwise, and the int8 kernels' integer work (pmulld, pmaxud,
// saturating packs) then costs several instructions per element. A package is
// built on the machine that runs it, so the manifest asks that machine: with
// AVX2, FMA and BMI2 the kernel target is compiled for Haswell's instruction
// set. Numerics do not change: without fast-math flags LLVM neither fuses
// multiplies into adds nor reorders floating-point reductions.
let kernelSettings: [SwiftSetting] = {
    #if arch(x86_64) && os(Linux)
    guard let cpuInfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let flagLine = cpuInfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return [] }
    let flags = Set(flagLine.split(separator: " ").map(String.init))
    return flags.isSuperset(of: ["avx2", "fma", "bmi2"]) ? [.unsafeFlags(["-target-cpu", "haswell"])] : []
    #else
    return []
    #endif
}()

let package = Package(
    name: "swift-ddp",
    products: [
        .library(name: "MPI", targets: ["MPI"]),
        .library(name: "TensorCore", targets: ["TensorCore"]),
        .library(name: "NeuralNet", targets: ["NeuralNet"]),
        .library(name: "DataPipeline", targets: ["DataPipeline"]),
        .library(name: "DataParallel", targets: ["DataParallel"]),
        .library(name: "RunConfig", targets: ["RunConfig"]),
        .library(name: "Checkpoint", targets: ["Checkpoint"]),
        .library(name: "RunLog", targets: ["RunLog"]),
        .library(name: "Inference", targets: ["Inference"]),
        .library(name: "Training", targets: ["Training"]),
        .library(name: "Compression", targets: ["Compression"]),
        .library(name: "ONNXExport", targets: ["ONNXExport"]),
        .library(name: "Launcher", targets: ["Launcher"]),
        .library(name: "Serving", targets: ["Serving"]),
        .executable(name: "ddp", targets: ["ddp"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        // Hummingbird's own dependencies, named because Serving uses them directly:
        // the connection limit is a NIO child channel, the drain a service group,
        // the Open Inference header a typed HTTP field.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
    ],
    targets: [
        // MARK: - Layer 1: C shims

        .systemLibrary(
            name: "CMPI",
            pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]
        ),
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // oneDNN's sgemm, faster than OpenBLAS's for the GPT's narrow products.
        .systemLibrary(
            name: "CDNNL",
            providers: [.apt(["libdnnl-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // One-call JPEG decoding for `ddp prepare images`.
        .systemLibrary(
            name: "CTurboJPEG",
            pkgConfig: "libturbojpeg",
            providers: [.apt(["libturbojpeg0-dev"])]
        ),
        // A C face for SentencePiece's C++ API: subword tokenizers trained on a corpus.
        .target(
            name: "CSentencePiece",
            linkerSettings: [.linkedLibrary("sentencepiece"), .linkedLibrary("sentencepiece_train")]
        ),
        // Acquire/release access to counters in memory shared between ranks.
        .systemLibrary(name: "CAtomics"),

        // MARK: - Layer 2: the Swift MPI module

        .target(name: "MPI", dependencies: ["CMPI", "CAtomics"]),

        // MARK: - Layer 3: tensor math on OpenBLAS

        .target(name: "TensorCore", dependencies: ["CBLAS", "CDNNL"], swiftSettings: kernelSettings),

        // MARK: - Layer 4: layers, models, losses, optimizers; data sets and sampler

        .target(name: "NeuralNet", dependencies: ["TensorCore", "CBLAS"]),
        .target(name: "DataPipeline", dependencies: ["TensorCore", "CZlib", "CTurboJPEG", "CSentencePiece"]),

        // The run config (schema, defaults, overrides) and what it builds:
        // the data splits, the model, the optimizer, the schedule. Below both
        // training and inference, so that serving a model needs no MPI.
        .target(
            name: "RunConfig",
            dependencies: ["NeuralNet", "DataPipeline", "TensorCore", .product(name: "Yams", package: "Yams")]
        ),

        // `ddp prepare`: raw text, image folders and CSV files to memory-mappable shards.
        .target(name: "DataPreparation", dependencies: ["DataPipeline"]),

        // MARK: - Layer 5: data parallelism

        .target(name: "DataParallel", dependencies: ["MPI", "NeuralNet", "TensorCore"]),

        // MARK: - Layer 6: checkpoints, run logs, inference, the training run, compression

        // Safetensors reading and writing, SHA-256, the checkpoint store and trainer state.
        .target(name: "Checkpoint", dependencies: ["DataPipeline", "TensorCore"]),
        // metrics.jsonl, TensorBoard event files, SVG plots of a run.
        // The protobuf wire format, written by hand for TensorBoard events and ONNX models.
        .target(name: "_ProtobufWire"),
        .target(name: "RunLog", dependencies: ["_ProtobufWire"]),
        // Loading a checkpoint for use: evaluate, predict, generate, inspect.
        .target(name: "Inference", dependencies: ["RunConfig", "Checkpoint", "NeuralNet", "DataPipeline", "TensorCore"]),
        // The trainer, its run loop, checkpointing and faults: the ranks' side of a job.
        .target(
            name: "Training",
            dependencies: ["RunConfig", "Checkpoint", "RunLog", "DataParallel", "MPI", "NeuralNet", "DataPipeline", "TensorCore"]
        ),
        // Pruning, quantization and low rank applied to a checkpoint, with fine-tuning by the trainer.
        .target(
            name: "Compression",
            dependencies: ["Training", "Inference", "RunConfig", "Checkpoint", "MPI", "NeuralNet", "DataPipeline", "TensorCore"]
        ),
        // `ddp export`: a checkpoint's model as an ONNX file, written with its own protobuf encoder.
        .target(name: "ONNXExport", dependencies: ["Inference", "Checkpoint", "NeuralNet", "DataPipeline", "TensorCore", "_ProtobufWire"]),

        // MARK: - Layer 7: the launcher, serving, the command line

        // `ddp launch`'s side of a job: the mpirun plan, attempts, restarts, progress read from the run directory.
        .target(name: "Launcher", dependencies: ["Training", "RunLog"]),

        // Serves a trained model over HTTP; needs inference only, not the training stack.
        .target(
            name: "Serving",
            dependencies: [
                "Inference",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        .executableTarget(
            name: "ddp",
            dependencies: [
                "Launcher",
                "Compression",
                "ONNXExport",
                "Training",
                "Inference",
                "RunLog",
                "Checkpoint",
                "RunConfig",
                "Serving",
                "DataParallel",
                "DataPipeline",
                "DataPreparation",
                "NeuralNet",
                "MPI",
                "TensorCore",
                "CMPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // MARK: - Test support

        // Multi-rank checks of the MPI module, started by the tests under real mpirun.
        .executableTarget(name: "mpi-checks", dependencies: ["MPI"], path: "Sources/MPIChecks"),

        // Spawns real mpirun jobs from XCTest with a clean environment.
        .target(name: "MPIRunSupport", path: "Tests/MPIRunSupport"),

        // The base test cases and helpers the checkpoint, training and command tests share.
        .target(
            name: "DDPTestSupport",
            dependencies: ["MPI", "RunConfig", "Checkpoint", "Training", "MPIRunSupport", "CTurboJPEG"],
            path: "Tests/DDPTestSupport"
        ),

        .testTarget(name: "MPITests", dependencies: ["MPI", "MPIRunSupport", "mpi-checks"]),
        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore"]),
        .testTarget(name: "NeuralNetTests", dependencies: ["TensorCore", "NeuralNet"]),
        .testTarget(name: "DataPipelineTests", dependencies: ["TensorCore", "DataPipeline", "MPIRunSupport"]),
        .testTarget(name: "RunConfigTests", dependencies: ["RunConfig"]),
        .testTarget(
            name: "DataPreparationTests",
            dependencies: ["DataPipeline", "DataPreparation", "Checkpoint", "TensorCore", "MPIRunSupport",
                           "DDPTestSupport", "ddp"]
        ),
        .testTarget(name: "RunLogTests", dependencies: ["RunLog", "_ProtobufWire", "MPIRunSupport", "DDPTestSupport", "ddp"]),
        .testTarget(name: "CheckpointTests", dependencies: ["Checkpoint", "DataPipeline", "MPIRunSupport", "DDPTestSupport", "ddp"]),
        .testTarget(
            name: "TrainingTests",
            dependencies: ["Checkpoint", "RunConfig", "RunLog", "Training", "Launcher", "MPIRunSupport", "DDPTestSupport", "ddp"]
        ),
        .testTarget(
            name: "CompressionTests",
            dependencies: ["MPI", "TensorCore", "NeuralNet", "DataPipeline", "Checkpoint", "Inference", "Training",
                           "Compression", "MPIRunSupport", "DDPTestSupport", "ddp"]
        ),
        .testTarget(name: "LauncherTests", dependencies: ["Training", "Launcher", "MPIRunSupport", "DDPTestSupport", "ddp"]),
        .testTarget(name: "DataParallelTests", dependencies: ["MPI", "NeuralNet", "DataParallel", "MPIRunSupport", "ddp"]),
        .testTarget(
            name: "DDPCommandTests",
            dependencies: ["TensorCore", "RunConfig", "Checkpoint", "Inference", "ONNXExport", "_ProtobufWire", "MPIRunSupport",
                           "DDPTestSupport", "ddp"]
        ),
    ],
    // Swift 5 mode: the MPI and BLAS layers hand raw pointers across C calls,
    // and strict-concurrency annotations there would add noise without safety.
    swiftLanguageModes: [.v5]
)

// MARK: - Fuzzing (not in the normal build)

// libFuzzer targets over the parsers of files and requests. They exist only
// when DDP_FUZZ is set, as `launch/fuzz.sh` does, since they need
// `--sanitize=fuzzer` (which supplies main) and testable imports.
if ProcessInfo.processInfo.environment["DDP_FUZZ"] != nil {
    package.products.append(.executable(name: "ddp-fuzz", targets: ["ddp-fuzz"]))
    package.targets.append(
        .executableTarget(
            name: "ddp-fuzz",
            dependencies: ["Checkpoint", "DataPipeline", "Inference", "RunConfig", "Serving"],
            path: "Fuzz/ddp-fuzz",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        )
    )
}

