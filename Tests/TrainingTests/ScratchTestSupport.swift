import Foundation
import XCTest

/// Creates the fresh directory `<tmp>/<prefix>-<UUID>`.
func makeScratchDirectory(prefix: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A scratch directory for the observability tests (metrics, TensorBoard, plots).
func observeScratchDirectory() throws -> URL {
    try makeScratchDirectory(prefix: "ddp-observe")
}

/// A test case with a fresh scratch directory for each test, removed after it.
class ScratchTestCase: XCTestCase {
    var scratch: URL!

    /// The directory name's prefix, so that a leftover tells which suite left it.
    class var scratchPrefix: String { "ddp-test" }

    override func setUpWithError() throws {
        scratch = try makeScratchDirectory(prefix: Self.scratchPrefix)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    /// Writes `text` to `name` in the scratch directory and returns its path.
    func writeConfig(_ text: String, name: String = "run.yaml") throws -> String {
        let url = scratch.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }
}
