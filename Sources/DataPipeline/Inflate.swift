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
/// - Throws: ``InflateError``; `corrupt` also for output beyond
///   ``largestInflatedSize(of:)``, which no honest stream produces.
public func inflateStream(_ compressed: [UInt8], capacity: Int, exactSize: Bool = false) throws -> [UInt8] {
    let limit = largestInflatedSize(of: compressed.count)
    var output = [UInt8](repeating: 0, count: max(1, min(capacity, limit)))
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
                if exactSize || output.count >= limit { status = Z_DATA_ERROR; break }
                output.append(contentsOf: repeatElement(0, count: min(output.count, limit - output.count)))
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

/// The most bytes `compressedCount` bytes of DEFLATE can inflate to: the
/// format's best ratio is 1032 to 1, so a header or size field promising
/// more is a lie to refuse before allocating for it.
public func largestInflatedSize(of compressedCount: Int) -> Int {
    let (product, overflow) = compressedCount.multipliedReportingOverflow(by: 1032)
    return overflow ? Int.max : product + 1 << 16
}
