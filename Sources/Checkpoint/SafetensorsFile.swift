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
        let file = try CheckedSafetensors(path: path) { entry in
            guard entry.dtype == "F32" else {
                throw CheckpointError.malformed(path: path, reason: "tensor \(entry.name) is \(entry.dtype), only F32 is supported")
            }
            return MemoryLayout<Float>.size
        }
        var tensors: [String: Tensor] = [:]
        for entry in file.entries {
            tensors[entry.name] = Tensor(shape: entry.shape, byteOffset: file.dataOffset + entry.begin)
        }
        self.tensors = tensors
        self.names = file.entries.map(\.name)
        self.metadata = file.metadata
        self.fd = file.fd
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
