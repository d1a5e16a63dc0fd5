import DataPipeline
import Foundation
import XCTest

/// A scratch directory per test, removed afterwards.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "ddp-data-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Writes `bytes` to `name` inside the directory and returns the full path.
    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let file = path + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        return file
    }

    func write(_ name: String, text: String) throws -> String {
        try write(name, Array(text.utf8))
    }
}

/// IDX bytes: magic for `dimensions.count`, big-endian extents, then `payload`.
func idxBytes(dimensions: [Int], payload: [UInt8], magic: UInt32? = nil) -> [UInt8] {
    var bytes: [UInt8] = []
    func word(_ value: UInt32) {
        bytes += [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }
    word(magic ?? (0x800 | UInt32(dimensions.count)))
    for extent in dimensions { word(UInt32(extent)) }
    return bytes + payload
}

/// A valid gzip file holding `data` in stored (uncompressed) deflate blocks,
/// so the tests need no compressor.
func gzipStored(_ data: [UInt8]) -> [UInt8] {
    var out: [UInt8] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]
    var offset = 0
    repeat {
        let length = min(65535, data.count - offset)
        let final: UInt8 = offset + length == data.count ? 1 : 0
        out.append(final)
        out += [UInt8(length & 0xff), UInt8(length >> 8)]
        out += [UInt8(~length & 0xff), UInt8((~length >> 8) & 0xff)]
        out += data[offset..<offset + length]
        offset += length
    } while offset < data.count
    let crc = crc32(data)
    let size = UInt32(truncatingIfNeeded: data.count)
    for value in [crc, size] {
        out += [UInt8(value & 0xff), UInt8(value >> 8 & 0xff), UInt8(value >> 16 & 0xff), UInt8(value >> 24)]
    }
    return out
}

func crc32(_ data: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xffff_ffff
    for byte in data {
        crc ^= UInt32(byte)
        for _ in 0..<8 {
            crc = crc & 1 == 1 ? (crc >> 1) ^ 0xedb8_8320 : crc >> 1
        }
    }
    return ~crc
}

/// Asserts that `body` throws exactly `expected` and that its message names `fileName`.
func assertDataError<T>(_ expected: DataError, naming fileName: String,
                        file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> T)
{
    do {
        _ = try body()
        XCTFail("expected \(expected) but nothing was thrown", file: file, line: line)
    } catch let error as DataError {
        XCTAssertEqual(error, expected, file: file, line: line)
        XCTAssertTrue(error.description.contains(fileName),
                      "message does not name \(fileName): \(error)", file: file, line: line)
    } catch {
        XCTFail("expected a DataError, got \(error)", file: file, line: line)
    }
}

/// The repository's data directory: `DDP_DATA_DIR`, else `data/` at the package root.
func realDataDirectory() -> String {
    if let dir = ProcessInfo.processInfo.environment["DDP_DATA_DIR"], !dir.isEmpty {
        return dir
    }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    return root.appendingPathComponent("data").path
}
