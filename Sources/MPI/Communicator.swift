import CMPI

/// A group of processes that take part in collectives together (`MPI_Comm`).
///
/// A communicator is either backed by MPI or *local*: the size-1 stand-in
/// used when the process was not launched by `mpirun`, whose collectives are
/// plain copies. Communicators created by `duplicate()` and `split(color:key:)`
/// are freed when the object is released.
public final class Communicator {
    /// The MPI handle, or `nil` for a local communicator.
    let handle: MPI_Comm?
    /// Whether `deinit` must free `handle` (false for the predefined world).
    private let ownsHandle: Bool

    /// This process's rank in the communicator, in `0..<size`.
    public let rank: Int
    /// The number of processes in the communicator.
    public let size: Int

    /// Whether this is the size-1 stand-in that never calls MPI.
    public var isLocal: Bool { handle == nil }

    /// Wraps an MPI communicator and records its rank and size.
    ///
    /// - Parameters:
    ///   - handle: A valid communicator.
    ///   - owning: Whether to free `handle` when released.
    private init(handle: MPI_Comm, owning: Bool) throws {
        var rank: Int32 = 0
        var size: Int32 = 0
        self.handle = handle
        self.ownsHandle = owning
        // The error handler is inherited by duplicates and splits, but setting
        // it explicitly keeps the guarantee independent of how the handle came.
        do {
            try check(MPI_Comm_set_errhandler(handle, cmpi_errors_return()), "MPI_Comm_set_errhandler")
            try check(MPI_Comm_rank(handle, &rank), "MPI_Comm_rank")
            try check(MPI_Comm_size(handle, &size), "MPI_Comm_size")
        } catch {
            self.rank = 0
            self.size = 1
            throw error
        }
        self.rank = Int(rank)
        self.size = Int(size)
    }

    /// Wraps a predefined communicator that must never be freed.
    convenience init(borrowing handle: MPI_Comm) throws {
        try self.init(handle: handle, owning: false)
    }

    /// Wraps a communicator created by this module, freeing it on release.
    convenience init(owning handle: MPI_Comm) throws {
        try self.init(handle: handle, owning: true)
    }

    /// The local size-1 communicator.
    private init(localOnly: ()) {
        handle = nil
        ownsHandle = false
        rank = 0
        size = 1
    }

    /// A new local size-1 communicator.
    static func local() -> Communicator { Communicator(localOnly: ()) }

    deinit {
        guard ownsHandle, handle != nil, MPI.canCallMPI else { return }
        var comm = handle
        MPI_Comm_free(&comm)
    }

    /// Returns a communicator with the same processes and a separate message
    /// space (`MPI_Comm_dup`). Collective over this communicator.
    ///
    /// Libraries take a duplicate so their traffic cannot match the caller's.
    public func duplicate() throws -> Communicator {
        guard let handle else { return .local() }
        var result: MPI_Comm? = cmpi_comm_null()
        try check(MPI_Comm_dup(handle, &result), "MPI_Comm_dup")
        return try Communicator(owning: result!)
    }

    /// Partitions the processes by color (`MPI_Comm_split`). Collective over
    /// this communicator.
    ///
    /// - Parameters:
    ///   - color: Processes passing the same color end up together; must be
    ///     non-negative.
    ///   - key: Orders ranks within the new communicator (ties keep the old order).
    /// - Returns: The communicator of this process's color. A local
    ///   communicator returns a new local communicator.
    public func split(color: Int, key: Int) throws -> Communicator {
        precondition(color >= 0 && color <= Int(Int32.max),
                     "Communicator.split: color must be in 0...Int32.max, got \(color)")
        precondition(key >= Int(Int32.min) && key <= Int(Int32.max),
                     "Communicator.split: key \(key) does not fit in Int32")
        guard let handle else { return .local() }
        var result: MPI_Comm? = cmpi_comm_null()
        try check(MPI_Comm_split(handle, Int32(color), Int32(key), &result), "MPI_Comm_split")
        return try Communicator(owning: result!)
    }

    /// Blocks until every process of the communicator has called it (`MPI_Barrier`).
    public func barrier() throws {
        guard let handle else { return }
        try check(MPI_Barrier(handle), "MPI_Barrier")
    }

    /// Stops with a clear message when `root` is not a rank of this communicator.
    func checkRoot(_ root: Int, _ function: StaticString) {
        precondition(root >= 0 && root < size,
                     "Communicator.\(function): root \(root) is not a rank of a size-\(size) communicator")
    }
}
