#if canImport(Glibc)
import Glibc
#endif

/// A file mapped read-only into memory: pages are read from disk when a
/// sample first touches them and can be dropped again by the kernel, so a
/// rank's memory does not grow with the data set.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    /// The file's size in bytes.
    public let count: Int
    /// The first byte (a valid pointer even for an empty file).
    public let bytes: UnsafeRawPointer
    private let mapping: UnsafeMutableRawPointer?

    /// Maps `path`, which must hold exactly `expectedBytes` bytes when given.
    ///
    /// - Throws: ``DataError`` naming `path` when it is missing, of another
    ///   size, or cannot be mapped.
    public init(path: String, expectedBytes: Int? = nil) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw DataError.fileNotFound(file: path) }
            throw DataError.unreadable(file: path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw DataError.unreadable(file: path, reason: String(cString: strerror(errno))) }
        let size = Int(info.st_size)
        if let expectedBytes, size != expectedBytes {
            throw DataError.badPreparedData(file: path, reason: "has \(size) bytes, the manifest says \(expectedBytes)")
        }
        self.path = path
        self.count = size
        if size == 0 {
            mapping = nil
            bytes = UnsafeRawPointer(bitPattern: 1)!
            return
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw DataError.unreadable(file: path, reason: "mmap: " + String(cString: strerror(errno)))
        }
        // Samples are read in shuffled order: reading ahead would only fill memory with pages nobody asked for.
        madvise(base, size, MADV_RANDOM)
        mapping = base
        bytes = UnsafeRawPointer(base)
    }

    /// Lets the kernel drop the pages of `range` from this process (they are
    /// read again from the file if touched): for a pass over the whole file
    /// that should not leave it resident.
    public func release(_ range: Range<Int>) {
        guard let mapping, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = range.lowerBound / page * page
        madvise(mapping + start, min(range.upperBound, count) - start, MADV_DONTNEED)
    }

    deinit {
        if let mapping { munmap(mapping, count) }
    }
}
