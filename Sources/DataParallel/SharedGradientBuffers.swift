import MPI
import NeuralNet
import TensorCore

/// The gradient buffers of all ranks of one node, side by side in one
/// ``SharedMemorySegment``, so that ranks can average them in place by
/// reading each other's memory (see ``SharedMemoryTransport``, and
/// ``HierarchicalTransport`` for one host among several).
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
    /// How the ranks sit on hosts, when the segment is one host's among
    /// several; `nil` when it holds every rank of the communicator.
    public let layout: HostLayout?
    /// Numbers the reductions over these buffers, shared by every reducer
    /// that uses them, so that counter values only ever grow.
    var generation: UInt64 = 0

    private init(segment: SharedMemorySegment, count: Int, layout: HostLayout?) {
        (self.segment, self.count, self.layout) = (segment, count, layout)
    }

    /// Creates buffers of `count` gradients for every rank of `communicator`.
    /// Collective.
    ///
    /// - Returns: The buffers, or `nil` when the ranks do not share one node.
    /// - Throws: ``SharedMemoryError`` or ``MPIError``, on every rank.
    public static func allocate(count: Int, communicator: Communicator) throws -> SharedGradientBuffers? {
        let bytes = controlBytes + max(count, 1) * MemoryLayout<Float>.stride
        guard let segment = try communicator.allocateSharedSegment(bytesPerRank: bytes) else { return nil }
        return SharedGradientBuffers(segment: segment, count: count, layout: nil)
    }

    /// Creates buffers of `count` gradients for the ranks of this host,
    /// one host of several. Collective over `layout.host`.
    ///
    /// - Throws: ``SharedMemoryError`` or ``MPIError``, on every rank of the host.
    public static func allocate(count: Int, hostOf layout: HostLayout) throws -> SharedGradientBuffers? {
        let bytes = controlBytes + max(count, 1) * MemoryLayout<Float>.stride
        guard let segment = try layout.host.allocateSharedSegment(bytesPerRank: bytes) else { return nil }
        return SharedGradientBuffers(segment: segment, count: count, layout: layout)
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
    /// memory shared by the ranks of each host of `communicator`. Every call
    /// is collective.
    ///
    /// When every rank runs on one host, the buffers hold all of them (for
    /// ``SharedMemoryTransport``); when the ranks span hosts with the same
    /// number (above one) on each, each host's ranks share theirs (for
    /// ``HierarchicalTransport``). Otherwise, or when the memory cannot be set
    /// up, it returns `nil` and `failure` receives the reason (a `nil` reason
    /// when the layout simply has nothing to share).
    ///
    /// - Parameters:
    ///   - communicator: The data-parallel group.
    ///   - singleHost: Whether to share when all ranks run on one host.
    ///   - acrossHosts: Whether to share per host when they span several.
    ///   - simulatedHosts: For tests on one machine, the number of hosts to
    ///     pretend (see ``MPI/Communicator/hostLayout(simulatedHosts:)``).
    ///   - failure: Told why gradients were not placed in shared memory.
    public static func allocator(communicator: Communicator, singleHost: Bool = true, acrossHosts: Bool = true,
                                 simulatedHosts: Int? = nil,
                                 failure: @escaping (Error?) -> Void) -> ParameterStore.GradientAllocator {
        let context = AllocationContext(communicator: communicator, singleHost: singleHost, acrossHosts: acrossHosts,
                                        simulatedHosts: simulatedHosts, failure: failure)
        return { count in context.storage(count: count) }
    }
}

/// What a gradient allocator needs.
private final class AllocationContext {
    let communicator: Communicator
    let singleHost: Bool
    let acrossHosts: Bool
    let simulatedHosts: Int?
    let failure: (Error?) -> Void

    init(communicator: Communicator, singleHost: Bool, acrossHosts: Bool, simulatedHosts: Int?,
         failure: @escaping (Error?) -> Void) {
        (self.communicator, self.singleHost, self.acrossHosts) = (communicator, singleHost, acrossHosts)
        (self.simulatedHosts, self.failure) = (simulatedHosts, failure)
    }

    func storage(count: Int) -> TensorStorage? {
        do {
            let layout = try communicator.hostLayout(simulatedHosts: simulatedHosts)
            let buffers: SharedGradientBuffers?
            if layout.hosts == 1 {
                buffers = singleHost ? try SharedGradientBuffers.allocate(count: count, communicator: communicator) : nil
            } else if acrossHosts && layout.isUniform && layout.ranksPerHost > 1 {
                buffers = try SharedGradientBuffers.allocate(count: count, hostOf: layout)
            } else {
                buffers = nil
            }
            guard let buffers else {
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
