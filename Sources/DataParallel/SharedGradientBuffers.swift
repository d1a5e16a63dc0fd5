import MPI
import NeuralNet
import TensorCore

/// The gradient buffers of all ranks of one node, side by side in one
/// ``SharedMemorySegment``, so that ranks can average them in place by
/// reading each other's memory (see ``SharedMemoryReduction``).
///
/// Each rank's region starts with a control page holding its two progress
/// counters, each on its own cache line so that polling one does not disturb
/// the other, followed by the rank's gradients.
public final class SharedGradientBuffers: @unchecked Sendable {
    /// The bytes before each rank's gradients.
    static let controlBytes = 4096
    /// The segment holding every rank's region.
    public let segment: SharedMemorySegment
    /// The number of gradient elements per rank.
    public let count: Int
    /// Numbers the reductions over these buffers, shared by every reducer
    /// that uses them, so that counter values only ever grow.
    var generation: UInt64 = 0

    private init(segment: SharedMemorySegment, count: Int) {
        self.segment = segment
        self.count = count
    }

    /// Creates buffers of `count` gradients for every rank of `communicator`.
    /// Collective.
    ///
    /// - Returns: The buffers, or `nil` when the ranks do not share one node.
    /// - Throws: ``SharedMemoryError`` or ``MPIError``, on every rank.
    public static func allocate(count: Int, communicator: Communicator) throws -> SharedGradientBuffers? {
        let bytes = controlBytes + max(count, 1) * MemoryLayout<Float>.stride
        guard let segment = try communicator.allocateSharedSegment(bytesPerRank: bytes) else { return nil }
        return SharedGradientBuffers(segment: segment, count: count)
    }

    /// The gradients of `rank`.
    func gradients(ofRank rank: Int) -> UnsafeMutablePointer<Float> {
        (segment.region(ofRank: rank) + Self.controlBytes).assumingMemoryBound(to: Float.self)
    }

    /// How far `rank` has announced its buckets final: `generation << 32 | buckets`.
    func readyCounter(ofRank rank: Int) -> SharedCounter {
        SharedCounter(segment.region(ofRank: rank))
    }

    /// How far `rank` has averaged its slices: `generation << 32 | buckets`.
    func reducedCounter(ofRank rank: Int) -> SharedCounter {
        SharedCounter(segment.region(ofRank: rank) + 128)
    }

    /// This rank's gradients as tensor storage that keeps the buffers alive.
    public func makeStorage() -> TensorStorage {
        TensorStorage(adopting: gradients(ofRank: segment.rank), count: count, owner: self)
    }

    /// A ``ParameterStore/GradientAllocator`` that places gradients in
    /// buffers shared by the ranks of `communicator`. Every call is
    /// collective; it returns `nil`, on every rank alike, when the ranks span
    /// nodes or the memory cannot be set up, and `failure` then receives the
    /// reason (a `nil` reason for ranks on several nodes).
    public static func allocator(communicator: Communicator,
                                 failure: @escaping (Error?) -> Void) -> ParameterStore.GradientAllocator {
        let context = AllocationContext(communicator: communicator, failure: failure)
        return { count in context.storage(count: count) }
    }
}

/// What a gradient allocator needs.
private final class AllocationContext {
    let communicator: Communicator
    let failure: (Error?) -> Void

    init(communicator: Communicator, failure: @escaping (Error?) -> Void) {
        self.communicator = communicator
        self.failure = failure
    }

    func storage(count: Int) -> TensorStorage? {
        do {
            guard let buffers = try SharedGradientBuffers.allocate(count: count, communicator: communicator) else {
                failure(nil)
                return nil
            }
            return buffers.makeStorage()
        } catch {
            failure(error)
            return nil
        }
    }
}
