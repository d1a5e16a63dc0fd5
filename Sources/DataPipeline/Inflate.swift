import CZlib

/// Why ``inflateStream(_:capacity:exactSize:)`` failed.
public enum InflateError: Error, Equatable, Sendable {
    /// zlib could not set up its state.
    case couldNotStart
    /// The input ends before the stream does (a truncated file).
    case truncated
    /// The data are not a valid stream, or hold more than the exact size
    /// announced; zlib's message when it gave one.
    case corrupt(String)
}

/// Inflates a complete zlib or gzip stream (the header tells which) held in memory.
///
/// - Parameters:
///   - compressed: The whole stream.
///   - capacity: The first size of the output buffer: a guess that doubles
///     while it proves short, or the exact size when `exactSize` is set.
///   - exactSize: Whether `capacity` bounds the output: a stream that would
///     fill it and go on is corrupt instead of growing the buffer.
/// - Returns: The decompressed bytes.
/// - Throws: ``InflateError``.
public func inflateStream(_ compressed: [UInt8], capacity: Int, exactSize: Bool = false) throws -> [UInt8] {
    var output = [UInt8](repeating: 0, count: capacity)
    var produced = 0
    var stream = z_stream()
    guard czlib_inflate_init_auto(&stream) == Z_OK else { throw InflateError.couldNotStart }
    defer { inflateEnd(&stream) }

    var status: Int32 = Z_OK
    compressed.withUnsafeBufferPointer { input in
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
        stream.avail_in = UInt32(input.count)
        while true {
            if produced == output.count {
                if exactSize { status = Z_DATA_ERROR; break }
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
        throw InflateError.truncated
    default:
        throw InflateError.corrupt(stream.msg.map { String(cString: $0) } ?? "zlib error \(status)")
    }
}
