import CMPI

/// How the ranks of a communicator sit on hosts: the ranks sharing this
/// rank's host, and the ranks with this rank's position on every other host.
///
/// A hierarchical collective works in two stages along these groups: inside
/// a host through shared memory, between hosts through the network, with one
/// rank per host and per slice on the wire.
public final class HostLayout {
    /// The ranks on this rank's host (`MPI_Comm_split_type` with
    /// `MPI_COMM_TYPE_SHARED`), ordered as in the parent communicator.
    public let host: Communicator
    /// The ranks whose position on their host equals this rank's (`host.rank`),
    /// one per host, ordered by the parent rank of each host's first rank.
    public let peers: Communicator
    /// The number of hosts.
    public let hosts: Int
    /// Whether every host runs the same number of ranks (``host`` size).
    public let isUniform: Bool

    fileprivate init(host: Communicator, peers: Communicator, hosts: Int, isUniform: Bool) {
        (self.host, self.peers, self.hosts, self.isUniform) = (host, peers, hosts, isUniform)
    }

    /// Ranks per host; meaningful when ``isUniform``.
    public var ranksPerHost: Int { host.size }
}

extension Communicator {
    /// The communicator of the ranks that share this rank's node (memory).
    /// Collective. A local communicator returns a new local communicator.
    public func splitByHost() throws -> Communicator {
        guard let handle else { return .local() }
        var node: MPI_Comm? = cmpi_comm_null()
        try check(MPI_Comm_split_type(handle, cmpi_comm_type_shared(), Int32(rank), cmpi_info_null(), &node),
                  "MPI_Comm_split_type")
        return try Communicator(owning: node!)
    }

    /// Finds which ranks share a host and groups the ranks by their position
    /// on it. Collective over this communicator.
    ///
    /// - Parameter simulatedHosts: For tests on one machine: pretend the
    ///   ranks run on this many hosts, consecutive ranks on each (the real
    ///   hosts are ignored). Must divide the size.
    public func hostLayout(simulatedHosts: Int? = nil) throws -> HostLayout {
        let host: Communicator
        if let simulatedHosts {
            precondition(simulatedHosts >= 1 && size % simulatedHosts == 0,
                         "Communicator.hostLayout: \(simulatedHosts) simulated hosts do not divide \(size) ranks")
            host = try split(color: rank / (size / simulatedHosts), key: rank)
        } else {
            host = try splitByHost()
        }
        let smallest = try allReduce(Int32(host.size), op: .min)
        let largest = try allReduce(Int32(host.size), op: .max)
        let hosts = try allReduce(Int32(host.rank == 0 ? 1 : 0), op: .sum)
        // Ordering by parent rank keeps host order the same for every slice.
        let peers = try split(color: host.rank, key: rank)
        return HostLayout(host: host, peers: peers, hosts: Int(hosts), isUniform: smallest == largest)
    }

    /// The host name of every rank (`MPI_Get_processor_name`, at most 64
    /// bytes each), indexed by rank. Collective.
    public func gatherHostNames() throws -> [String] {
        let width = 64
        var name = Array(MPI.processorName.utf8.prefix(width))
        name += [UInt8](repeating: 0, count: width - name.count)
        let all = try allGather(name)
        return (0..<size).map { rank in
            String(decoding: all[rank * width..<(rank + 1) * width].prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// Lets MPI move data of nonblocking operations under way on any
    /// communicator, without waiting (`MPI_Iprobe`, which runs OpenMPI's
    /// progress engine once).
    ///
    /// OpenMPI has no asynchronous progress: a rank that waits on something
    /// other than MPI (a counter in shared memory) must still call into MPI,
    /// or fragments it queued for its peers over TCP are never written and
    /// the peers wait for it in turn.
    public func driveProgress() throws {
        guard let handle else { return }
        var flag: Int32 = 0
        try check(MPI_Iprobe(cmpi_any_source(), cmpi_any_tag(), handle, &flag, cmpi_status_ignore()), "MPI_Iprobe")
    }
}
