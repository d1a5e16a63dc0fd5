import DataPipeline
#if canImport(Glibc)
import Glibc
#endif

/// Writes a safetensors file by streaming tensors straight from live buffers.
///
/// The format: an 8-byte little-endian header length N, N bytes of JSON
/// mapping each name to `{"dtype", "shape", "data_offsets"}` (offsets
/// relative to the first byte after the header) plus `__metadata__`, then
/// the data. Since every shape is known up front the header is written
/// first, and the data follows in entry order through ``append(_:count:)``
/// with no staging copy: a checkpoint never holds a second model in memory.
/// Tensors may be F32 or I8 (compressed models store int8 weights, which
/// the Python `safetensors` package reads); each piece appended must match
/// the dtype of the tensors it fills. The SHA-256 of every byte written is
/// computed on the way.
public final class SafetensorsWriter {
    /// The file being written.
    public let path: String
    /// The tensors, in file order.
    public let entries: [SafetensorsEntry]
    private var fd: Int32
    private let hasher = SHA256()
    // The tensor the next appended byte belongs to, and how many of its bytes are written.
    private var current = 0
    private var writtenOfCurrent = 0
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
            let end = offset + entry.byteCount
            let shape = entry.shape.map(String.init).joined(separator: ",")
            parts.append("\(jsonString(entry.name)):{\"dtype\":\"\(entry.dtype.rawValue)\",\"shape\":[\(shape)],"
                         + "\"data_offsets\":[\(offset),\(end)]}")
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
    /// or starting the next: tensors may arrive in several pieces, and a
    /// piece may span several F32 tensors.
    ///
    /// - Throws: ``CheckpointError/io(path:operation:errno:)``.
    public func append(_ values: UnsafePointer<Float>, count: Int) throws {
        advance(by: count * MemoryLayout<Float>.size, of: .f32)
        try writeBytes(UnsafeRawBufferPointer(start: values, count: count * MemoryLayout<Float>.size))
    }

    /// Appends Float32 tensor data.
    public func append(_ values: [Float]) throws {
        try values.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            try append(base, count: buffer.count)
        }
    }

    /// Appends int8 tensor data.
    public func append(_ values: [Int8]) throws {
        advance(by: values.count, of: .i8)
        try values.withUnsafeBytes { try writeBytes($0) }
    }

    /// Appends U8 tensor data.
    public func append(_ values: [UInt8]) throws {
        advance(by: values.count, of: .u8)
        try values.withUnsafeBytes { try writeBytes($0) }
    }

    /// Moves past `bytes` bytes of the tensors still to write, which must all be `dtype`.
    private func advance(by bytes: Int, of dtype: TensorDType) {
        var left = bytes
        while left > 0 {
            precondition(current < entries.count, "SafetensorsWriter: more data than the header of \(path) declares")
            let entry = entries[current]
            let room = entry.byteCount - writtenOfCurrent
            precondition(room == 0 || entry.dtype == dtype,
                         "SafetensorsWriter: \(entry.name) in \(path) is \(entry.dtype.rawValue), got \(dtype.rawValue) data")
            let taken = min(room, left)
            left -= taken
            writtenOfCurrent += taken
            if writtenOfCurrent == entry.byteCount { (current, writtenOfCurrent) = (current + 1, 0) }
        }
    }

    /// Flushes the file to disk and closes it.
    ///
    /// - Returns: The SHA-256 of the whole file, as hex.
    /// - Throws: ``CheckpointError/io(path:operation:errno:)``.
    public func finish() throws -> (sha256: String, bytes: Int) {
        precondition(entries[current...].allSatisfy { $0.byteCount == 0 } && writtenOfCurrent == 0,
                     "SafetensorsWriter: tensors declared in the header of \(path) were never written")
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
