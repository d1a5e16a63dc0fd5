import MPI
import NeuralNet

/// The split of a flat parameter buffer into one contiguous range per rank,
/// for ZeRO stage 1: each rank keeps optimizer state for, and updates, only
/// its own range.
///
/// Ranges are `ceil(count / ranks)` elements rounded up to a cache line, in
/// rank order; the last ones are shorter or empty. Uneven blocks are handled
/// by the collectives' counts, so the parameter buffer needs no padding.
public struct ParameterShards: Equatable, Sendable {
    /// Rank `r` owns `ranges[r]`.
    public let ranges: [Range<Int>]

    /// Splits `count` elements over `ranks` ranks.
    ///
    /// - Parameters:
    ///   - count: The flat buffer's length.
    ///   - ranks: The number of shards; at least 1.
    public init(count: Int, ranks: Int) {
        precondition(ranks >= 1, "ParameterShards: need at least one rank, got \(ranks)")
        precondition(count >= 0, "ParameterShards: negative count \(count)")
        // 16 floats = 64 bytes: no two ranks' updates share a cache line.
        let perRank = ((count + ranks - 1) / ranks + 15) / 16 * 16
        ranges = (0..<ranks).map { r in
            min(r * perRank, count)..<min((r + 1) * perRank, count)
        }
    }

    /// Element counts per rank, as collectives want them.
    public var counts: [Int] { ranges.map(\.count) }

    /// The ranks whose range meets `range`, with the overlapping part.
    public func owners(of range: Range<Int>) -> [(rank: Int, range: Range<Int>)] {
        ranges.enumerated().compactMap { rank, shard in
            let part = range.clamped(to: shard)
            return part.isEmpty ? nil : (rank, part)
        }
    }

    /// Copies every rank's updated range of `parameters.values` to all ranks.
    ///
    /// - Throws: An `MPIError` from the allgather.
    public func gatherValues(_ parameters: ParameterStore, over communicator: Communicator) throws {
        guard communicator.size > 1 else { return }
        precondition(ranges.count == communicator.size,
                     "ParameterShards: \(ranges.count) shards for a communicator of \(communicator.size) ranks")
        try communicator.allGatherInPlace(
            UnsafeMutableBufferPointer(start: parameters.values.pointer, count: parameters.count), counts: counts)
    }
}
