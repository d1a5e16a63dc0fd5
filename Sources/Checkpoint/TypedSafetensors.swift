import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The element types a compressed checkpoint stores.
public enum TensorDType: String, Sendable, CaseIterable {
    /// Float32: dense and pruned weights, biases, quantization scales, factors.
    case f32 = "F32"
    /// Signed 8-bit integers: int8-quantized weights.
    case i8 = "I8"

    /// Bytes per element.
    public var size: Int { self == .f32 ? 4 : 1 }
}

/// One tensor of a mixed-dtype safetensors file.
public struct TypedTensorEntry: Equatable, Sendable {
    public let name: String
    public let dtype: TensorDType
    public let shape: [Int]

    public init(name: String, dtype: TensorDType, shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "TypedTensorEntry: negative dimension in \(shape) of \(name)")
        self.name = name
        self.dtype = dtype
        self.shape = shape
    }

    /// The number of elements.
    public var count: Int { shape.reduce(1, *) }
    /// The number of data bytes.
    public var byteCount: Int { count * dtype.size }
}

/// Writes a safetensors file whose tensors may be F32 or I8.
///
/// ``SafetensorsWriter`` streams the Float32 training checkpoints; compressed
/// models mix in int8 tensors, which the standard format allows (dtype
/// `I8`) and the Python `safetensors` package reads. The header is written
/// first, then each tensor's bytes in entry order.
public final class TypedSafetensorsWriter {
    public let path: String
    private let entries: [TypedTensorEntry]
    private var next = 0
    private var fd: Int32
    private let hasher = SHA256()
    private var bytesWritten = 0

    /// Creates (or truncates) `path` and writes the header.
    public init(path: String, entries: [TypedTensorEntry], metadata: [String: String]) throws {
        precondition(Set(entries.map(\.name)).count == entries.count, "TypedSafetensorsWriter: duplicate tensor names")
        self.path = path
        self.entries = entries
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CheckpointError.io(path: path, operation: "open", errno: errno) }
        var parts: [String] = []
        if !metadata.isEmpty {
            let fields = metadata.keys.sorted().map {
                "\(SafetensorsWriter.jsonString($0)):\(SafetensorsWriter.jsonString(metadata[$0]!))"
            }
            parts.append("\"__metadata__\":{" + fields.joined(separator: ",") + "}")
        }
        var offset = 0
        for entry in entries {
            let shape = entry.shape.map(String.init).joined(separator: ",")
            parts.append("\(SafetensorsWriter.jsonString(entry.name)):{\"dtype\":\"\(entry.dtype.rawValue)\",\"shape\":[\(shape)],"
                         + "\"data_offsets\":[\(offset),\(offset + entry.byteCount)]}")
            offset += entry.byteCount
        }
        var header = Array(("{" + parts.joined(separator: ",") + "}").utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var length = UInt64(header.count).littleEndian
        try withUnsafeBytes(of: &length) { try write($0) }
        try header.withUnsafeBytes { try write($0) }
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// Writes the next tensor's elements, which must match its entry.
    public func append(_ values: [Float]) throws {
        try expect(.f32, count: values.count)
        try values.withUnsafeBytes { try write($0) }
    }

    /// Writes the next tensor's elements, which must match its entry.
    public func append(_ values: [Int8]) throws {
        try expect(.i8, count: values.count)
        try values.withUnsafeBytes { try write($0) }
    }

    /// Flushes and closes the file.
    ///
    /// - Returns: Its SHA-256 and size.
    public func finish() throws -> TrainerState.FileRecord {
        precondition(next == entries.count, "TypedSafetensorsWriter: \(entries.count - next) tensors of \(path) were never written")
        let result = fsync(fd)
        let code = errno
        close(fd)
        fd = -1
        guard result == 0 else { throw CheckpointError.io(path: path, operation: "fsync", errno: code) }
        return TrainerState.FileRecord(bytes: bytesWritten, sha256: hasher.finalize())
    }

    private func expect(_ dtype: TensorDType, count: Int) throws {
        precondition(next < entries.count, "TypedSafetensorsWriter: more tensors than the header of \(path) declares")
        let entry = entries[next]
        precondition(entry.dtype == dtype && entry.count == count,
                     "TypedSafetensorsWriter: \(entry.name) is \(entry.dtype.rawValue) x \(entry.count), got \(dtype.rawValue) x \(count)")
        next += 1
    }

    private func write(_ bytes: UnsafeRawBufferPointer) throws {
        hasher.update(bytes)
        bytesWritten += bytes.count
        try writeAll(fd: fd, bytes, path: path)
    }
}

/// A safetensors file of F32 and I8 tensors, read whole tensor at a time.
public final class TypedSafetensorsFile {
    /// The file.
    public let path: String
    /// Every tensor by name, with its dtype, shape and absolute byte offset.
    public let tensors: [String: (entry: TypedTensorEntry, byteOffset: Int)]
    /// The `__metadata__` strings.
    public let metadata: [String: String]
    /// The file's size in bytes.
    public let byteCount: Int
    private let fd: Int32

    /// Opens `path` and validates its header.
    ///
    /// - Throws: ``CheckpointError`` naming `path` when it is missing,
    ///   truncated, or holds a dtype other than F32 and I8.
    public init(path: String) throws {
        self.path = path
        let file = try CheckedSafetensors(path: path) { entry in
            guard let dtype = TensorDType(rawValue: entry.dtype) else {
                throw CheckpointError.malformed(
                    path: path, reason: "tensor \(entry.name) is \(entry.dtype); compressed checkpoints hold F32 and I8 only")
            }
            return dtype.size
        }
        var tensors: [String: (entry: TypedTensorEntry, byteOffset: Int)] = [:]
        for entry in file.entries {
            // CheckedSafetensors accepted only the dtypes above, and non-negative shapes.
            let typed = TypedTensorEntry(name: entry.name, dtype: TensorDType(rawValue: entry.dtype)!, shape: entry.shape)
            tensors[entry.name] = (typed, file.dataOffset + entry.begin)
        }
        self.tensors = tensors
        self.metadata = file.metadata
        self.byteCount = file.fileSize
        self.fd = file.fd
    }

    deinit {
        close(fd)
    }

    /// The entry called `name`.
    ///
    /// - Throws: ``CheckpointError/malformed(path:reason:)`` when there is none.
    public func entry(_ name: String) throws -> TypedTensorEntry {
        guard let found = tensors[name] else { throw CheckpointError.malformed(path: path, reason: "no tensor \(name)") }
        return found.entry
    }

    /// The Float32 tensor `name`.
    ///
    /// - Throws: ``CheckpointError`` when it is missing, not F32, or unreadable.
    public func floats(_ name: String) throws -> [Float] {
        let entry = try check(name, .f32)
        var values = [Float](repeating: 0, count: entry.count)
        try values.withUnsafeMutableBytes { try readExactly(fd: fd, into: $0, at: tensors[name]!.byteOffset, path: path) }
        return values
    }

    /// The int8 tensor `name`.
    ///
    /// - Throws: ``CheckpointError`` when it is missing, not I8, or unreadable.
    public func int8s(_ name: String) throws -> [Int8] {
        let entry = try check(name, .i8)
        var values = [Int8](repeating: 0, count: entry.count)
        try values.withUnsafeMutableBytes { try readExactly(fd: fd, into: $0, at: tensors[name]!.byteOffset, path: path) }
        return values
    }

    private func check(_ name: String, _ dtype: TensorDType) throws -> TypedTensorEntry {
        let entry = try entry(name)
        guard entry.dtype == dtype else {
            throw CheckpointError.malformed(path: path, reason: "tensor \(name) is \(entry.dtype.rawValue), expected \(dtype.rawValue)")
        }
        return entry
    }
}
