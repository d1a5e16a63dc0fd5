import DataPipeline
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A safetensors file opened for reading: the header parsed and checked
/// against the file's size, the data read on demand into caller buffers.
///
/// A training checkpoint holds only F32 tensors; a compressed one mixes in
/// I8. The caller names the dtypes it reads, and any other is an error.
public final class SafetensorsFile {
    /// One tensor's place in the file.
    public struct Tensor: Equatable, Sendable {
        public let entry: SafetensorsEntry
        /// Absolute byte offset of the first element.
        public let byteOffset: Int

        public var shape: [Int] { entry.shape }
        public var dtype: TensorDType { entry.dtype }
        /// The number of elements.
        public var count: Int { entry.count }
    }

    /// The file.
    public let path: String
    /// Every tensor, by name.
    public let tensors: [String: Tensor]
    /// The names in file order.
    public let names: [String]
    /// The `__metadata__` strings.
    public let metadata: [String: String]
    /// The tensors stored sparse (``SparseTensorLayout``), by name, with their dense shape and dtype.
    public let sparse: [String: SafetensorsEntry]
    /// The file's size in bytes.
    public let byteCount: Int
    private let fd: Int32

    /// Opens `path` and validates its header.
    ///
    /// - Parameters:
    ///   - path: The file.
    ///   - dtypes: The element types the caller reads; a tensor of another is an error.
    /// - Throws: ``CheckpointError`` naming `path` when it is missing, shorter
    ///   than its header says, or not a safetensors file of `dtypes` tensors.
    public init(path: String, dtypes: Set<TensorDType> = [.f32]) throws {
        self.path = path
        var tensors: [String: Tensor] = [:]
        let file = try CheckedSafetensors(path: path) { entry in
            guard let dtype = TensorDType(rawValue: entry.dtype), dtypes.contains(dtype) else {
                let expected = TensorDType.allCases.filter(dtypes.contains).map(\.rawValue).joined(separator: " and ")
                throw CheckpointError.malformed(path: path, reason: "tensor \(entry.name) is \(entry.dtype), only \(expected) is supported")
            }
            return dtype.size
        }
        for entry in file.entries {
            // CheckedSafetensors accepted only the dtypes above, and non-negative shapes.
            let typed = SafetensorsEntry(name: entry.name, shape: entry.shape, dtype: TensorDType(rawValue: entry.dtype)!)
            tensors[entry.name] = Tensor(entry: typed, byteOffset: file.dataOffset + entry.begin)
        }
        self.tensors = tensors
        self.names = file.entries.map(\.name)
        self.metadata = file.metadata
        self.byteCount = file.fileSize
        self.fd = file.fd
        self.sparse = try Self.sparseEntries(metadata: file.metadata, tensors: tensors, path: path)
    }

    /// The sparse tensors the metadata lists, each checked against its stored parts.
    private static func sparseEntries(metadata: [String: String], tensors: [String: Tensor], path: String) throws -> [String: SafetensorsEntry] {
        guard let text = metadata[SparseTensorLayout.metadataKey] else { return [:] }
        guard let shapes = SparseTensorLayout.shapes(text) else {
            throw CheckpointError.malformed(path: path, reason: "__metadata__ \"\(SparseTensorLayout.metadataKey)\" is not a JSON object of tensor shapes")
        }
        var entries: [String: SafetensorsEntry] = [:]
        for (name, shape) in shapes {
            let count = shape.reduce(1, *)
            guard let values = tensors[SparseTensorLayout.valuesName(name)], let mask = tensors[SparseTensorLayout.maskName(name)] else {
                throw CheckpointError.malformed(path: path, reason: "sparse tensor \(name) lacks \(name).values or \(name).mask")
            }
            guard mask.dtype == .u8, mask.count == SparseTensorLayout.maskBytes(count: count) else {
                throw CheckpointError.malformed(path: path, reason: "\(name).mask is \(mask.dtype.rawValue) \(mask.shape), expected U8 [\(SparseTensorLayout.maskBytes(count: count))] for shape \(shape)")
            }
            guard values.dtype != .u8, values.shape.count == 1, values.count <= count else {
                throw CheckpointError.malformed(path: path, reason: "\(name).values is \(values.dtype.rawValue) \(values.shape), not at most \(count) F32 or I8 values")
            }
            guard tensors[name] == nil else {
                throw CheckpointError.malformed(path: path, reason: "tensor \(name) is stored both dense and sparse")
            }
            entries[name] = SafetensorsEntry(name: name, shape: shape, dtype: values.dtype)
        }
        return entries
    }

    deinit {
        close(fd)
    }

    /// The tensor called `name`.
    ///
    /// - Throws: ``CheckpointError/malformed(path:reason:)`` when there is none.
    public func tensor(_ name: String) throws -> Tensor {
        guard let tensor = tensors[name] else { throw CheckpointError.malformed(path: path, reason: "no tensor \(name)") }
        return tensor
    }

    /// The name, shape and dtype of tensor `name`.
    ///
    /// - Throws: ``CheckpointError/malformed(path:reason:)`` when there is none.
    public func entry(_ name: String) throws -> SafetensorsEntry {
        if let entry = sparse[name] { return entry }
        return try tensor(name).entry
    }

    /// Whether a tensor `name` is stored, dense or sparse.
    public func contains(_ name: String) -> Bool {
        tensors[name] != nil || sparse[name] != nil
    }

    /// The names of the tensors as the model knows them, in file order: a
    /// sparse tensor once, in place of its values and mask.
    public var denseNames: [String] {
        var parts: [String: String] = [:]
        for name in sparse.keys {
            parts[SparseTensorLayout.valuesName(name)] = name
            parts[SparseTensorLayout.maskName(name)] = ""
        }
        return names.compactMap { stored in
            guard let whole = parts[stored] else { return stored }
            return whole.isEmpty ? nil : whole
        }
    }

    /// Reads elements `elements` of the F32 tensor `name` into `destination`.
    ///
    /// - Throws: ``CheckpointError`` when the tensor is missing, not F32, or the read fails.
    public func read(_ name: String, elements: Range<Int>, into destination: UnsafeMutablePointer<Float>) throws {
        if sparse[name] != nil {
            let whole = try floats(name)
            precondition(elements.lowerBound >= 0 && elements.upperBound <= whole.count,
                         "SafetensorsFile: elements \(elements) outside tensor \(name) of \(whole.count)")
            whole.withUnsafeBufferPointer { destination.update(from: $0.baseAddress! + elements.lowerBound, count: elements.count) }
            return
        }
        let tensor = try check(name, .f32)
        precondition(elements.lowerBound >= 0 && elements.upperBound <= tensor.count,
                     "SafetensorsFile: elements \(elements) outside tensor \(name) of \(tensor.count)")
        let size = MemoryLayout<Float>.size
        try readExactly(fd: fd, into: UnsafeMutableRawBufferPointer(start: destination, count: elements.count * size),
                        at: tensor.byteOffset + elements.lowerBound * size, path: path)
    }

    /// The whole F32 tensor `name`.
    ///
    /// - Throws: ``CheckpointError`` when it is missing, not F32, or unreadable.
    public func floats(_ name: String) throws -> [Float] {
        try readWhole(name, as: Float.self, .f32)
    }

    /// The whole I8 tensor `name`.
    ///
    /// - Throws: ``CheckpointError`` when it is missing, not I8, or unreadable.
    public func int8s(_ name: String) throws -> [Int8] {
        try readWhole(name, as: Int8.self, .i8)
    }

    private func readWhole<Element: Numeric>(_ name: String, as type: Element.Type, _ dtype: TensorDType) throws -> [Element] {
        if let entry = sparse[name] {
            guard entry.dtype == dtype else {
                throw CheckpointError.malformed(path: path, reason: "tensor \(name) is \(entry.dtype.rawValue), expected \(dtype.rawValue)")
            }
            let mask = try readWhole(SparseTensorLayout.maskName(name), as: UInt8.self, .u8)
            let nonzeros = try readWhole(SparseTensorLayout.valuesName(name), as: type, dtype)
            guard let dense = SparseTensorLayout.join(mask: mask, nonzeros: nonzeros, count: entry.count) else {
                throw CheckpointError.malformed(path: path, reason: "\(name).mask sets another number of bits than \(name).values holds")
            }
            return dense
        }
        let tensor = try check(name, dtype)
        var values = [Element](repeating: 0, count: tensor.count)
        try values.withUnsafeMutableBytes { try readExactly(fd: fd, into: $0, at: tensor.byteOffset, path: path) }
        return values
    }

    private func check(_ name: String, _ dtype: TensorDType) throws -> Tensor {
        let tensor = try tensor(name)
        guard tensor.dtype == dtype else {
            throw CheckpointError.malformed(path: path, reason: "tensor \(name) is \(tensor.dtype.rawValue), expected \(dtype.rawValue)")
        }
        return tensor
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
