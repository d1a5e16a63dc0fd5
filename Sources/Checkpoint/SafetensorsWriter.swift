#if canImport(Glibc)
import Glibc
#endif

/// The name and shape of one Float32 tensor in a safetensors file.
public struct SafetensorsEntry: Equatable, Sendable {
    public let name: String
    public let shape: [Int]

    public init(name: String, shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "SafetensorsEntry: negative dimension in \(shape) of \(name)")
        self.name = name
        self.shape = shape
    }

    /// The number of elements.
    public var count: Int { shape.reduce(1, *) }
}

/// Writes a safetensors file by streaming tensors straight from live buffers.
///
/// The format: an 8-byte little-endian header length N, N bytes of JSON
/// mapping each name to `{"dtype", "shape", "data_offsets"}` (offsets
/// relative to the first byte after the header) plus `__metadata__`, then
/// the data. Since every shape is known up front the header is written
/// first, and the data follows in entry order through ``append(_:count:)``
/// with no staging copy: a checkpoint never holds a second model in memory.
/// The SHA-256 of every byte written is computed on the way.
public final class SafetensorsWriter {
    /// The file being written.
    public let path: String
    /// The tensors, in file order.
    public let entries: [SafetensorsEntry]
    private var fd: Int32
    private let hasher = SHA256()
    private var remainingElements: Int
    private var bytesWritten = 0

    /// Creates (or truncates) `path` and writes the header.
    ///
    /// - Parameters:
    ///   - path: The file to write.
    ///   - entries: Every tensor, in the order their data will be appended.
    ///   - metadata: Free-form strings stored under `__metadata__`.
    /// - Throws: ``CheckpointError/io(path:operation:errno:)``.
    public init(path: String, entries: [SafetensorsEntry], metadata: [String: String] = [:]) throws {
        precondition(1.littleEndian == 1, "SafetensorsWriter: safetensors data is little-endian; this host is not")
        precondition(Set(entries.map(\.name)).count == entries.count, "SafetensorsWriter: duplicate tensor names")
        precondition(!entries.contains { $0.name == "__metadata__" }, "SafetensorsWriter: reserved name __metadata__")
        self.path = path
        self.entries = entries
        remainingElements = entries.reduce(0) { $0 + $1.count }
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CheckpointError.io(path: path, operation: "open", errno: errno) }

        var header = Array(Self.headerJSON(entries: entries, metadata: metadata).utf8)
        // Spaces pad the header so the data starts 8-byte aligned, as the reference writer does.
        while header.count % 8 != 0 { header.append(0x20) }
        var length = UInt64(header.count).littleEndian
        try withUnsafeBytes(of: &length) { try writeBytes($0) }
        try header.withUnsafeBytes { try writeBytes($0) }
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// The JSON header: `__metadata__` first, then the tensors in file order.
    static func headerJSON(entries: [SafetensorsEntry], metadata: [String: String]) -> String {
        var parts: [String] = []
        if !metadata.isEmpty {
            let fields = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            parts.append("\"__metadata__\":{" + fields.joined(separator: ",") + "}")
        }
        var offset = 0
        for entry in entries {
            let end = offset + entry.count * MemoryLayout<Float>.size
            let shape = entry.shape.map(String.init).joined(separator: ",")
            parts.append("\(jsonString(entry.name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        return "{" + parts.joined(separator: ",") + "}"
    }

    /// `text` as a JSON string literal.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += "\\u" + String(scalar.value, radix: 16).leftPadded(to: 4)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// Appends `count` floats of tensor data, continuing the current tensor
    /// or starting the next: tensors may arrive in several pieces.
    ///
    /// - Throws: ``CheckpointError/io(path:operation:errno:)``.
    public func append(_ values: UnsafePointer<Float>, count: Int) throws {
        precondition(count <= remainingElements,
                     "SafetensorsWriter: \(count) more elements than the header declares for \(path)")
        remainingElements -= count
        try writeBytes(UnsafeRawBufferPointer(start: values, count: count * MemoryLayout<Float>.size))
    }

    /// Flushes the file to disk and closes it.
    ///
    /// - Returns: The SHA-256 of the whole file, as hex.
    /// - Throws: ``CheckpointError/io(path:operation:errno:)``.
    public func finish() throws -> (sha256: String, bytes: Int) {
        precondition(remainingElements == 0,
                     "SafetensorsWriter: \(remainingElements) elements declared in the header of \(path) were never written")
        let result = fsync(fd)
        let code = errno
        close(fd)
        fd = -1
        guard result == 0 else { throw CheckpointError.io(path: path, operation: "fsync", errno: code) }
        return (hasher.finalize(), bytesWritten)
    }

    private func writeBytes(_ bytes: UnsafeRawBufferPointer) throws {
        hasher.update(bytes)
        bytesWritten += bytes.count
        try writeAll(fd: fd, bytes, path: path)
    }
}

/// Writes every byte of `bytes`, retrying partial writes and interruptions.
func writeAll(fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
    guard var p = bytes.baseAddress else { return }
    var remaining = bytes.count
    while remaining > 0 {
        let n = write(fd, p, remaining)
        if n < 0 {
            if errno == EINTR { continue }
            throw CheckpointError.io(path: path, operation: "write", errno: errno)
        }
        p += n
        remaining -= n
    }
}
