import TensorCore

// The loops that sum gradient slices across the buffers of one host's ranks,
// shared by the shared-memory and hierarchical transports. Each also tells
// whether every result is finite, the way `Kernels.allFinite` does: `x * 0`
// is 0 for finite `x` and NaN otherwise.

/// Rank `rank`'s slice of `bucket` when `ranks` ranks share its averaging:
/// whole cache lines per rank (16 Floats), so no two ranks write the same
/// line; the last ranks' slices may be short or empty.
func cacheLineSlice(of bucket: Range<Int>, rank: Int, ranks: Int) -> Range<Int> {
    let perRank = ((bucket.count + ranks - 1) / ranks + 15) / 16 * 16
    let low = min(bucket.lowerBound + rank * perRank, bucket.upperBound)
    return low..<min(low + perRank, bucket.upperBound)
}

/// `a[i] = b[i] = (a[i] + b[i]) * scale` over `range`: the two-rank case,
/// one read and one write of each buffer. Returns whether all means are finite.
func averagePairInPlace(_ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>,
                        _ range: Range<Int>, scale: Float) -> Bool {
    var check = FloatLanes()
    var i = range.lowerBound
    while i + FloatLanes.scalarCount <= range.upperBound {
        let mean = (loadLanes(a, i) + loadLanes(b, i)) * scale
        storeLanes(mean, a, i)
        storeLanes(mean, b, i)
        check += mean * 0
        i += FloatLanes.scalarCount
    }
    var tail: Float = 0
    while i < range.upperBound {
        let mean = (a[i] + b[i]) * scale
        a[i] = mean
        b[i] = mean
        tail += mean * 0
        i += 1
    }
    return check.sum() + tail == 0
}

/// The sum over `sources` in rank order, times `scale`, written to every
/// source, or only to `sources[owner]` when `owner` is set. Returns whether
/// all means are finite.
func average(_ sources: UnsafeBufferPointer<UnsafeMutablePointer<Float>>, into owner: Int?,
                     _ range: Range<Int>, scale: Float) -> Bool {
    var check = FloatLanes()
    var i = range.lowerBound
    while i + FloatLanes.scalarCount <= range.upperBound {
        var sum = loadLanes(sources[0], i)
        for r in 1..<sources.count { sum += loadLanes(sources[r], i) }
        sum *= scale
        if let owner {
            storeLanes(sum, sources[owner], i)
        } else {
            for r in 0..<sources.count { storeLanes(sum, sources[r], i) }
        }
        check += sum * 0
        i += FloatLanes.scalarCount
    }
    var tail: Float = 0
    while i < range.upperBound {
        var sum = sources[0][i]
        for r in 1..<sources.count { sum += sources[r][i] }
        sum *= scale
        if let owner {
            sources[owner][i] = sum
        } else {
            for r in 0..<sources.count { sources[r][i] = sum }
        }
        tail += sum * 0
        i += 1
    }
    return check.sum() + tail == 0
}

/// `destinations[r][i] = source[i] * scale` for every `r` over `range`; the
/// source may be one of the destinations. Returns whether all values are finite.
func distribute(_ source: UnsafeMutablePointer<Float>, to destinations: UnsafeBufferPointer<UnsafeMutablePointer<Float>>,
                _ range: Range<Int>, scale: Float) -> Bool {
    var check = FloatLanes()
    var i = range.lowerBound
    while i + FloatLanes.scalarCount <= range.upperBound {
        let value = loadLanes(source, i) * scale
        for r in 0..<destinations.count { storeLanes(value, destinations[r], i) }
        check += value * 0
        i += FloatLanes.scalarCount
    }
    var tail: Float = 0
    while i < range.upperBound {
        let value = source[i] * scale
        for r in 0..<destinations.count { destinations[r][i] = value }
        tail += value * 0
        i += 1
    }
    return check.sum() + tail == 0
}

/// `destinations[r][i] = float(source[i]) * scale` for every `r` over
/// `range`, from bfloat16. Returns whether all values are finite.
func distributeBFloat16(_ source: UnsafePointer<UInt16>, to destinations: UnsafeBufferPointer<UnsafeMutablePointer<Float>>,
                        _ range: Range<Int>, scale: Float) -> Bool {
    var tail: Float = 0
    for i in range {
        let value = floatFromBFloat16(source[i]) * scale
        for r in 0..<destinations.count { destinations[r][i] = value }
        tail += value * 0
    }
    return tail == 0
}
