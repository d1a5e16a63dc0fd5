import Foundation

/// Whole-file reads, with gzip files inflated transparently.
enum FileBytes {
    /// The contents of `path`; when the file starts with the gzip magic
    /// bytes, its decompressed contents.
    static func read(_ path: String) throws -> [UInt8] {
        let raw = try readRaw(path)
        if raw.count >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
            return try gunzip(raw, file: path)
        }
        return raw
    }

    /// The bytes of `path` as stored on disk.
    static func readRaw(_ path: String) throws -> [UInt8] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DataError.fileNotFound(file: path)
        }
        if isDirectory.boolValue {
            throw DataError.unreadable(file: path, reason: "is a directory")
        }
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            return [UInt8](data)
        } catch {
            throw DataError.unreadable(file: path, reason: "\(error.localizedDescription)")
        }
    }

    /// Inflates a complete gzip (or zlib) stream held in memory.
    static func gunzip(_ compressed: [UInt8], file: String) throws -> [UInt8] {
        // The gzip trailer stores the uncompressed size modulo 2^32: a good
        // first guess for the output buffer, grown if it proves short.
        var capacity = compressed.count * 4
        if compressed.count >= 18 {
            let n = compressed.count
            let stored = Int(compressed[n - 4]) | Int(compressed[n - 3]) << 8
                | Int(compressed[n - 2]) << 16 | Int(compressed[n - 1]) << 24
            capacity = max(stored, 1)
        }
        do {
            return try inflateStream(compressed, capacity: capacity)
        } catch InflateError.couldNotStart {
            throw DataError.corruptCompressed(file: file, reason: "zlib could not start inflating")
        } catch InflateError.truncated {
            throw DataError.corruptCompressed(file: file, reason: "stream ends early (truncated file)")
        } catch InflateError.corrupt(let message) {
            throw DataError.corruptCompressed(file: file, reason: message)
        }
    }
}

/// Whether a regular file or directory exists at `path`.
func fileExists(_ path: String) -> Bool {
    FileManager.default.fileExists(atPath: path)
}
