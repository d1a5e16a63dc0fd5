import Foundation
import MPIRunSupport
import XCTest

/// Creates the fresh directory `<tmp>/<prefix>-<UUID>`.
public func makeScratchDirectory(prefix: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A scratch directory for the observability tests (metrics, TensorBoard, plots).
public func observeScratchDirectory() throws -> URL {
    try makeScratchDirectory(prefix: "ddp-observe")
}

/// A test case with a fresh scratch directory for each test, removed after it.
open class ScratchTestCase: XCTestCase {
    public var scratch: URL!

    /// The directory name's prefix, so that a leftover tells which suite left it.
    open class var scratchPrefix: String { "ddp-test" }

    open override func setUpWithError() throws {
        scratch = try makeScratchDirectory(prefix: Self.scratchPrefix)
    }

    open override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    /// Runs `ddp` with `arguments` as one process (no mpirun).
    public func ddp(_ arguments: [String], timeout: TimeInterval = 120) throws -> MPIRunResult {
        try MPIRun.runProcess(executable: try MPIRun.executableURL(named: "ddp"), arguments: arguments, timeout: timeout)
    }

    /// Writes `text` to `name` in the scratch directory and returns its path.
    public func writeConfig(_ text: String, name: String = "run.yaml") throws -> String {
        let url = scratch.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// A small MLP on synthetic classes with momentum (state a resume must
    /// restore) and a checkpoint every 10 steps; `extra` lines join `training:`.
    public static func smallMLP(steps: Int, extra: String = "") -> String {
        """
        model:
          kind: mlp
          hidden: [32]
          dropout: 0.1
        data:
          dataset: synthetic_classes
          samples: 1024
          features: 16
          classes: 4
        optimizer:
          kind: sgd
          lr: 0.1
          momentum: 0.9
        training:
          batch_size: 32
          steps: \(steps)
          epochs: 0
          log_every: 10
          eval_every: 20
        \(extra)checkpoint:
          every: 10
          keep_last: 10
        """
    }
}
