import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One tensor as a safetensors header lists it, before its dtype is checked.
struct SafetensorsHeaderEntry {
    let name: String
    let dtype: String
    let shape: [Int]
    /// `data_offsets`: the tensor's byte range within the data after the header.
    let begin: Int
    let end: Int
}

/// Splits a parsed safetensors header into its tensors, in no particular
/// order, and the raw `__metadata__` value (nil when absent).
///
/// - Throws: ``CheckpointError/malformed(path:reason:)`` naming `path` when a
///   tensor lacks its dtype, shape or data offsets.
func safetensorsHeaderEntries(_ object: [String: Any], path: String) throws
    -> (entries: [SafetensorsHeaderEntry], metadata: Any?) {
    var entries: [SafetensorsHeaderEntry] = []
    var metadata: Any?
    for (name, value) in object {
        if name == "__metadata__" {
            metadata = value
            continue
        }
        guard let fields = value as? [String: Any], let dtype = fields["dtype"] as? String,
              let shape = exactIntegers(fields["shape"]), let offsets = exactIntegers(fields["data_offsets"]),
              offsets.count == 2
        else {
            throw CheckpointError.malformed(path: path, reason: "tensor \(name) lacks dtype, shape or data_offsets "
                                            + "(as non-negative integers that fit in 64 bits)")
        }
        entries.append(SafetensorsHeaderEntry(name: name, dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1]))
    }
    return (entries, metadata)
}

/// `value` as an array of non-negative integers, each exactly as written
/// (no fraction, no rounding of a number past 64 bits), or `nil`.
private func exactIntegers(_ value: Any?) -> [Int]? {
    guard let items = value as? [Any] else { return nil }
    var result: [Int] = []
    for item in items {
        guard let number = item as? NSNumber, number == NSNumber(value: number.int64Value),
              number.int64Value >= 0 else { return nil }
        result.append(Int(number.int64Value))
    }
    return result
}

/// The bytes per element of a safetensors dtype, or `nil` for one the
/// format does not define.
func safetensorsElementSize(_ dtype: String) -> Int? {
    switch dtype {
    case "BOOL", "U8", "I8", "F8_E4M3", "F8_E5M2": return 1
    case "U16", "I16", "F16", "BF16": return 2
    case "U32", "I32", "F32": return 4
    case "U64", "I64", "F64": return 8
    default: return nil
    }
}

/// The bytes of a tensor of `shape` with `elementSize`-byte elements, or
/// `nil` when the product does not fit in an `Int`: a header is input, and
/// `[2^62, 4]` must be an error, not an overflow trap.
func tensorByteCount(shape: [Int], elementSize: Int) -> Int? {
    var product = elementSize
    for dimension in shape {
        let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
        guard !overflow else { return nil }
        product = next
    }
    return product
}

/// A safetensors file opened for reading, its header parsed and checked
/// against the file: what ``SafetensorsFile``
/// builds on. The caller owns (and closes) `fd`.
struct CheckedSafetensors {
    let fd: Int32
    /// The file's size in bytes.
    let fileSize: Int
    /// The absolute offset of the data, just after the header.
    let dataOffset: Int
    /// The tensors in file order.
    let entries: [SafetensorsHeaderEntry]
    /// The `__metadata__` strings.
    let metadata: [String: String]

    /// Opens `path` and validates its header: every tensor's byte range fits
    /// its dtype and shape, and the tensors tile the data with no gap or
    /// overlap, as the format requires.
    ///
    /// - Parameters:
    ///   - path: The file.
    ///   - elementSize: The bytes per element of an entry's dtype; throws for
    ///     a dtype the caller does not read.
    /// - Throws: ``CheckpointError`` naming `path` when it is missing, shorter
    ///   than its header says, or not a safetensors file.
    init(path: String, elementSize: (SafetensorsHeaderEntry) throws -> Int) throws {
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

        let (entries, rawMetadata) = try safetensorsHeaderEntries(object, path: path)
        var metadata: [String: String] = [:]
        if let rawMetadata {
            guard let fields = rawMetadata as? [String: Any] else { throw malformed("__metadata__ is not an object") }
            for (key, field) in fields {
                guard let text = field as? String else { throw malformed("__metadata__.\(key) is not a string") }
                metadata[key] = text
            }
        }
        for entry in entries {
            let size = try elementSize(entry)
            guard entry.end >= entry.begin, let bytes = tensorByteCount(shape: entry.shape, elementSize: size),
                  entry.end - entry.begin == bytes
            else {
                throw malformed("tensor \(entry.name): data_offsets [\(entry.begin), \(entry.end)] do not fit \(entry.dtype) \(entry.shape)")
            }
        }
        let ordered = entries.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var cursor = 0
        for entry in ordered {
            guard entry.begin == cursor else { throw malformed("tensor \(entry.name) starts at \(entry.begin), expected \(cursor)") }
            cursor = entry.end
        }
        // `cursor` comes from the header: add without trapping.
        let (expected, overflow) = (8 + headerLength).addingReportingOverflow(cursor)
        guard !overflow else { throw malformed("its tensors end past any possible file (\(cursor) bytes of data)") }
        guard expected == fileSize else {
            throw CheckpointError.wrongSize(path: path, expected: expected, actual: fileSize)
        }
        self.fd = fd
        self.fileSize = fileSize
        self.dataOffset = 8 + headerLength
        self.entries = ordered
        self.metadata = metadata
        closeOnFailure = false
    }
}
