import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A safetensors file opened for reading: the header parsed and checked
/// against the file's size, the data read on demand into caller buffers.
///
/// Only Float32 tensors are accepted; that is all this project writes.
public final class SafetensorsFile {
    /// One tensor's place in the file.
    public struct Tensor: Equatable, Sendable {
        public let shape: [Int]
        /// Absolute byte offset of the first element.
        public let byteOffset: Int
        /// The number of elements.
        public var count: Int { shape.reduce(1, *) }
    }

    /// The file.
    public let path: String
    /// Every tensor, by name.
    public let tensors: [String: Tensor]
    /// The names in file order.
    public let names: [String]
    /// The `__metadata__` strings.
    public let metadata: [String: String]
    private let fd: Int32

    /// Opens `path` and validates its header.
    ///
    /// - Throws: ``CheckpointError`` naming `path` when it is missing, shorter
    ///   than its header says, or not a safetensors file of Float32 tensors.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw CheckpointError.missingFile(path) }
            throw CheckpointError.io(path: path, operation: "open", errno: errno)
        }
        var closeOnFailure = true
        defer { if closeOnFailure { close(fd) } }

        var info = stat()
        guard fstat(fd, &info) == 0 else { throw CheckpointError.io(path: path, operation: "stat", errno: errno) }
        let fileSize = Int(info.st_size)
        func malformed(_ reason: String) -> CheckpointError { .malformed(path: path, reason: reason) }

        guard fileSize >= 8 else { throw CheckpointError.wrongSize(path: path, expected: 8, actual: fileSize) }
        var length: UInt64 = 0
        try withUnsafeMutableBytes(of: &length) { try readExactly(fd: fd, into: $0, at: 0, path: path) }
        let headerLength = Int(clamping: UInt64(littleEndian: length))
        guard headerLength <= 100_000_000 else { throw malformed("header length \(headerLength) is implausible") }
        guard 8 + headerLength <= fileSize else {
            throw CheckpointError.wrongSize(path: path, expected: 8 + headerLength, actual: fileSize)
        }
        var header = [UInt8](repeating: 0, count: headerLength)
        try header.withUnsafeMutableBytes { try readExactly(fd: fd, into: $0, at: 8, path: path) }
        guard let object = try? JSONSerialization.jsonObject(with: Data(header)) as? [String: Any] else {
            throw malformed("the header is not a JSON object")
        }

        var tensors: [String: Tensor] = [:]
        var spans: [(name: String, begin: Int, end: Int)] = []
        var metadata: [String: String] = [:]
        for (name, value) in object {
            if name == "__metadata__" {
                guard let fields = value as? [String: Any] else { throw malformed("__metadata__ is not an object") }
                for (key, field) in fields {
                    guard let text = field as? String else { throw malformed("__metadata__.\(key) is not a string") }
                    metadata[key] = text
                }
                continue
            }
            guard let fields = value as? [String: Any], let dtype = fields["dtype"] as? String,
                  let shape = (fields["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  let offsets = (fields["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  offsets.count == 2
            else { throw malformed("tensor \(name) lacks dtype, shape or data_offsets") }
            guard dtype == "F32" else { throw malformed("tensor \(name) is \(dtype), only F32 is supported") }
            guard shape.allSatisfy({ $0 >= 0 }), offsets[0] >= 0, offsets[1] >= offsets[0],
                  offsets[1] - offsets[0] == shape.reduce(1, *) * MemoryLayout<Float>.size
            else { throw malformed("tensor \(name): data_offsets \(offsets) do not fit shape \(shape)") }
            tensors[name] = Tensor(shape: shape, byteOffset: 8 + headerLength + offsets[0])
            spans.append((name, offsets[0], offsets[1]))
        }
        // The data must be tiled by the tensors with no gap or overlap, as the format requires.
        spans.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var cursor = 0
        for span in spans {
            guard span.begin == cursor else { throw malformed("tensor \(span.name) starts at \(span.begin), expected \(cursor)") }
            cursor = span.end
        }
        guard 8 + headerLength + cursor == fileSize else {
            throw CheckpointError.wrongSize(path: path, expected: 8 + headerLength + cursor, actual: fileSize)
        }
        self.tensors = tensors
        self.names = spans.map(\.name)
        self.metadata = metadata
        self.fd = fd
        closeOnFailure = false
    }

    deinit {
        close(fd)
    }

    /// The entry called `name`.
    ///
    /// - Throws: ``CheckpointError/malformed(path:reason:)`` when there is none.
    public func tensor(_ name: String) throws -> Tensor {
        guard let tensor = tensors[name] else { throw CheckpointError.malformed(path: path, reason: "no tensor \(name)") }
        return tensor
    }

    /// Reads elements `elements` of tensor `name` into `destination`.
    ///
    /// - Throws: ``CheckpointError`` when the tensor is missing or the read fails.
    public func read(_ name: String, elements: Range<Int>, into destination: UnsafeMutablePointer<Float>) throws {
        let entry = try tensor(name)
        precondition(elements.lowerBound >= 0 && elements.upperBound <= entry.count,
                     "SafetensorsFile: elements \(elements) outside tensor \(name) of \(entry.count)")
        let size = MemoryLayout<Float>.size
        try readExactly(fd: fd, into: UnsafeMutableRawBufferPointer(start: destination, count: elements.count * size),
                        at: entry.byteOffset + elements.lowerBound * size, path: path)
    }
}

/// Fills `buffer` from `fd` at `offset`, failing on a short file.
func readExactly(fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int, path: String) throws {
    guard var p = buffer.baseAddress else { return }
    var remaining = buffer.count
    var position = offset
    while remaining > 0 {
        let n = pread(fd, p, remaining, off_t(position))
        if n < 0 {
            if errno == EINTR { continue }
            throw CheckpointError.io(path: path, operation: "read", errno: errno)
        }
        if n == 0 { throw CheckpointError.wrongSize(path: path, expected: offset + buffer.count, actual: position) }
        p += n
        remaining -= n
        position += n
    }
}

/// The SHA-256 and size of the file at `path`, read in 1 MiB pieces.
///
/// - Throws: ``CheckpointError/missingFile(_:)`` or an I/O error.
public func sha256OfFile(_ path: String) throws -> (sha256: String, bytes: Int) {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
        if errno == ENOENT { throw CheckpointError.missingFile(path) }
        throw CheckpointError.io(path: path, operation: "open", errno: errno)
    }
    defer { close(fd) }
    let hasher = SHA256()
    let chunk = 1 << 20
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 16)
    defer { buffer.deallocate() }
    var total = 0
    while true {
        let n = read(fd, buffer, chunk)
        if n < 0 {
            if errno == EINTR { continue }
            throw CheckpointError.io(path: path, operation: "read", errno: errno)
        }
        if n == 0 { break }
        hasher.update(UnsafeRawBufferPointer(start: buffer, count: n))
        total += n
    }
    return (hasher.finalize(), total)
}
