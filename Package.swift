// swift-tools-version:6.0
//
// swift-ddp: distributed data-parallel training in Swift on OpenMPI and OpenBLAS.
// Targets are grouped by the architecture's layers; each imports only layers below it.

import PackageDescription

let package = Package(
    name: "swift-ddp",
    products: [
        .library(name: "MPI", targets: ["MPI"]),
        .library(name: "TensorCore", targets: ["TensorCore"]),
        .library(name: "NeuralNet", targets: ["NeuralNet"]),
        .library(name: "DataPipeline", targets: ["DataPipeline"]),
        .library(name: "DataParallel", targets: ["DataParallel"]),
        .library(name: "Training", targets: ["Training"]),
        .executable(name: "ddp", targets: ["ddp"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
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
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // Acquire/release access to counters in memory shared between ranks.
        .systemLibrary(name: "CAtomics"),

        // MARK: - Layer 2: the Swift MPI module

        .target(name: "MPI", dependencies: ["CMPI", "CAtomics"]),

        // MARK: - Layer 3: tensor math on OpenBLAS

        .target(name: "TensorCore", dependencies: ["CBLAS"]),

        // MARK: - Layer 4: layers, models, losses, optimizers; data sets and sampler

        .target(name: "NeuralNet", dependencies: ["TensorCore"]),
        .target(name: "DataPipeline", dependencies: ["TensorCore", "CZlib"]),

        // MARK: - Layer 5: data parallelism

        .target(name: "DataParallel", dependencies: ["MPI", "NeuralNet", "DataPipeline"]),

        // MARK: - Layer 6: the training run

        .target(
            name: "Training",
            dependencies: [
                "DataParallel",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),

        // MARK: - Layer 7: serving a trained model over HTTP

        // Kept apart from Training: serving is a separate concern (a network
        // service with its own dependencies), used only by the `ddp serve` command.
        .target(
            name: "Serving",
            dependencies: [
                "Training",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // MARK: - Layer 7: the command line

        .executableTarget(
            name: "ddp",
            dependencies: [
                "Training",
                "Serving",
                "DataParallel",
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

        .testTarget(name: "MPITests", dependencies: ["MPI", "MPIRunSupport", "mpi-checks"]),
        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore"]),
        .testTarget(name: "NeuralNetTests", dependencies: ["NeuralNet"]),
        .testTarget(name: "DataPipelineTests", dependencies: ["DataPipeline"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "MPIRunSupport", "ddp"]),
        .testTarget(name: "DataParallelTests", dependencies: ["DataParallel", "Training", "MPIRunSupport", "ddp"]),
    ],
    // Swift 5 mode: the MPI and BLAS layers hand raw pointers across C calls,
    // and strict-concurrency annotations there would add noise without safety.
    swiftLanguageModes: [.v5]
)
