import CZlib
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
        var output = [UInt8](repeating: 0, count: capacity)
        var produced = 0
        var stream = z_stream()
        guard czlib_inflate_init_auto(&stream) == Z_OK else {
            throw DataError.corruptCompressed(file: file, reason: "zlib could not start inflating")
        }
        defer { inflateEnd(&stream) }

        var status: Int32 = Z_OK
        compressed.withUnsafeBufferPointer { input in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            stream.avail_in = UInt32(input.count)
            while true {
                if produced == output.count {
                    output.append(contentsOf: repeatElement(0, count: output.count))
                }
                let room = min(output.count - produced, Int(UInt32.max))
                status = output.withUnsafeMutableBufferPointer { out -> Int32 in
                    stream.next_out = out.baseAddress! + produced
                    stream.avail_out = UInt32(room)
                    let result = inflate(&stream, Z_NO_FLUSH)
                    produced += room - Int(stream.avail_out)
                    return result
                }
                if status == Z_STREAM_END { break }
                if status == Z_BUF_ERROR && stream.avail_in == 0 { break }
                if status != Z_OK && status != Z_BUF_ERROR { break }
            }
        }
        switch status {
        case Z_STREAM_END:
            output.removeLast(output.count - produced)
            return output
        case Z_BUF_ERROR:
            throw DataError.corruptCompressed(file: file, reason: "stream ends early (truncated file)")
        default:
            let message = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
            throw DataError.corruptCompressed(file: file, reason: message)
        }
    }
}

/// Whether a regular file or directory exists at `path`.
func fileExists(_ path: String) -> Bool {
    FileManager.default.fileExists(atPath: path)
}
