import CMPI
#if canImport(Glibc)
import Glibc
#endif

/// Memory that every rank of a single-node communicator maps: one region per
/// rank, each readable and writable by all of them.
///
/// Ranks on one machine can exchange data by loads and stores instead of
/// messages; a reduction then reads its peers' buffers where they lie, with
/// no copy into the MPI library's own buffers. The segment is a POSIX shared
/// memory object, created by rank 0, mapped by all ranks and unlinked as soon
/// as all have mapped it, so nothing is left in `/dev/shm` even if the job is
/// killed. Unmapping is local: releasing the segment needs no collective call.
public final class SharedMemorySegment: @unchecked Sendable {
    /// The number of ranks sharing the segment.
    public let ranks: Int
    /// This process's rank in the communicator that created the segment.
    public let rank: Int
    /// The size of each rank's region, a multiple of the page size.
    public let bytesPerRank: Int
    private let mapping: UnsafeMutableRawPointer

    fileprivate init(mapping: UnsafeMutableRawPointer, ranks: Int, rank: Int, bytesPerRank: Int) {
        (self.mapping, self.ranks, self.rank, self.bytesPerRank) = (mapping, ranks, rank, bytesPerRank)
    }

    deinit {
        munmap(mapping, ranks * bytesPerRank)
    }

    /// The first byte of `rank`'s region; page aligned, zero-filled at creation.
    public func region(ofRank rank: Int) -> UnsafeMutableRawPointer {
        precondition(rank >= 0 && rank < ranks, "SharedMemorySegment: rank \(rank) is not in 0..<\(ranks)")
        return mapping + rank * bytesPerRank
    }
}

/// Why a shared-memory segment could not be set up.
public struct SharedMemoryError: Error, Equatable, CustomStringConvertible {
    /// The system call that failed, e.g. `"shm_open"`, or `"peer"` when
    /// another rank failed.
    public let call: String
    /// The `errno` value (0 for a peer's failure).
    public let code: Int32
    /// The failing rank.
    public let rank: Int

    public var description: String {
        if call == "peer" { return "shared memory: rank \(rank) could not map the segment" }
        return "shared memory: \(call) failed on rank \(rank): \(String(cString: strerror(code))) (errno \(code))"
    }
}

extension Communicator {
    /// Whether all ranks run on one node, so they can share memory
    /// (`MPI_Comm_split_type` with `MPI_COMM_TYPE_SHARED`). Collective.
    public func sharesOneNode() throws -> Bool {
        guard !isLocal else { return true }
        return try splitByHost().size == size
    }

    /// Creates a segment with a region of at least `bytesPerRank` bytes for
    /// every rank. Collective over this communicator.
    ///
    /// Every rank returns the same outcome: a segment, `nil`, or an error.
    ///
    /// - Parameter bytesPerRank: The size each rank needs; rounded up to pages.
    /// - Returns: The segment, or `nil` when the ranks span several nodes or
    ///   the communicator is local.
    /// - Throws: ``SharedMemoryError`` when the memory cannot be created or
    ///   mapped on some rank (for example `/dev/shm` is full), or an
    ///   ``MPIError`` from the coordinating collectives.
    public func allocateSharedSegment(bytesPerRank: Int) throws -> SharedMemorySegment? {
        precondition(bytesPerRank > 0, "Communicator.allocateSharedSegment: \(bytesPerRank) bytes per rank")
        guard !isLocal, try sharesOneNode() else { return nil }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let regionBytes = (bytesPerRank + page - 1) / page * page
        let totalBytes = regionBytes * size

        // Rank 0 names and sizes the object; the name travels as fixed-size bytes.
        var nameBytes = [UInt8](repeating: 0, count: 64)
        var failure: SharedMemoryError?
        if rank == 0 {
            sharedSegmentSerial += 1
            let name = "/swift-ddp-\(getpid())-\(sharedSegmentSerial)"
            nameBytes.replaceSubrange(0..<name.utf8.count, with: name.utf8)
            failure = createSharedObject(name: name, bytes: totalBytes)
        }
        try broadcast(&nameBytes, root: 0)
        let name = String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self)
        let rootFailed = try broadcast(Int32(failure == nil ? 0 : 1), root: 0)
        if rootFailed != 0 {
            throw failure ?? SharedMemoryError(call: "peer", code: 0, rank: 0)
        }

        var mapping: UnsafeMutableRawPointer?
        let fd = shm_open(name, O_RDWR, 0)
        if fd < 0 {
            failure = SharedMemoryError(call: "shm_open", code: errno, rank: rank)
        } else {
            let address = mmap(nil, totalBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
            if address == MAP_FAILED || address == nil {
                failure = SharedMemoryError(call: "mmap", code: errno, rank: rank)
            } else {
                mapping = address
            }
            close(fd)
        }
        // Agree before unlinking, so no rank opens a name that is gone.
        let firstFailing = try allReduce(Int32(failure == nil ? size : rank), op: .min)
        if rank == 0 { shm_unlink(name) }
        guard firstFailing == Int32(size), let mapping else {
            if let mapping { munmap(mapping, totalBytes) }
            throw failure ?? SharedMemoryError(call: "peer", code: 0, rank: Int(firstFailing))
        }
        return SharedMemorySegment(mapping: mapping, ranks: size, rank: rank, bytesPerRank: regionBytes)
    }

    /// Creates the object `name` with `bytes` of backing pages reserved now:
    /// on tmpfs a page allocated lazily past the mount's limit is a SIGBUS at
    /// first touch, while reserving turns it into an error here.
    private func createSharedObject(name: String, bytes: Int) -> SharedMemoryError? {
        let fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0o600)
        guard fd >= 0 else { return SharedMemoryError(call: "shm_open", code: errno, rank: rank) }
        defer { close(fd) }
        if ftruncate(fd, off_t(bytes)) != 0 {
            let code = errno
            shm_unlink(name)
            return SharedMemoryError(call: "ftruncate", code: code, rank: rank)
        }
        let code = posix_fallocate(fd, 0, off_t(bytes))
        if code != 0 {
            shm_unlink(name)
            return SharedMemoryError(call: "posix_fallocate", code: code, rank: rank)
        }
        return nil
    }
}

/// Distinguishes the segments one process creates.
nonisolated(unsafe) private var sharedSegmentSerial = 0
