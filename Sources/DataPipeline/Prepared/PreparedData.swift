#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A prepared data set opened for training: its manifest and its shards,
/// memory-mapped. Opening reads only the manifest and checks file sizes.
///
/// The kernel maps whole page-cache folios (often hundreds of KB) around
/// every sample read, so a rank reading random samples of a large data set
/// would soon hold much of it; every ``trimInterval`` samples the rank
/// checks its file-backed resident memory and, above ``residentBudget``,
/// lets the kernel drop the shards' pages (they stay in the page cache).
public final class PreparedData {
    public let directory: String
    public let manifest: PreparedManifest
    let shards: [MappedFile]
    let labels: [MappedFile]
    /// File-backed resident bytes above which the shards' pages are dropped.
    public static let residentBudget = 128 << 20
    /// Samples read between two looks at the resident memory.
    static let trimInterval = 64
    private let reads = Atomic<Int>(0)
    // A data set smaller than the budget is never trimmed: its pages stay mapped.
    private let trims: Bool

    /// Opens the data set `ddp prepare` wrote to `directory`.
    ///
    /// - Throws: ``DataError`` naming the manifest or shard that is missing or wrong.
    public init(directory: String) throws {
        self.directory = directory
        manifest = try PreparedManifest.load(directory: directory)
        shards = try manifest.shards.map { try MappedFile(path: directory + "/" + $0.data.file, expectedBytes: $0.data.bytes) }
        labels = try manifest.shards.compactMap(\.labels).map {
            try MappedFile(path: directory + "/" + $0.file, expectedBytes: $0.bytes)
        }
        trims = (shards + labels).reduce(0) { $0 + $1.count } > Self.residentBudget
        try checkTokens()
    }

    /// Counts one sample read, and trims the mapped pages when due.
    @inline(__always)
    func noteRead() {
        guard trims, reads.wrappingAdd(1, ordering: .relaxed).newValue % Self.trimInterval == 0 else { return }
        trimIfOverBudget()
    }

    private func trimIfOverBudget() {
        guard let resident = fileBackedResidentBytes(), resident > Self.residentBudget else { return }
        for file in shards + labels { file.release(0..<file.count) }
    }

    /// Where item `index` (a token or a sample) lives: its shard and its place in it.
    @inline(__always)
    func locate(_ index: Int) -> (shard: Int, offset: Int) {
        (index / manifest.shardCount, index % manifest.shardCount)
    }

    /// The class id of sample `index` (images, tables).
    @inline(__always)
    func label(_ index: Int) -> Int {
        let (shard, offset) = locate(index)
        return Int(UInt32(littleEndian: labels[shard].bytes.loadUnaligned(fromByteOffset: offset * 4, as: UInt32.self)))
    }

    /// Checks every token against the vocabulary (a damaged shard would
    /// otherwise reach the model as an out-of-range id), a piece at a time,
    /// dropping each piece's pages again so the pass leaves no memory behind.
    func checkTokens() throws {
        guard let text = manifest.text else { return }
        let limit = text.vocabularySize
        for (shard, file) in shards.enumerated() {
            let count = manifest.shards[shard].count
            let piece = 1 << 22
            var start = 0
            while start < count {
                let end = min(start + piece, count)
                var largest = 0, at = 0
                if text.dtype == .uint16 {
                    let ids = file.bytes.bindMemory(to: UInt16.self, capacity: count)
                    for i in start..<end where Int(UInt16(littleEndian: ids[i])) > largest { (largest, at) = (Int(UInt16(littleEndian: ids[i])), i) }
                } else {
                    let ids = file.bytes.bindMemory(to: UInt32.self, capacity: count)
                    for i in start..<end where Int(UInt32(littleEndian: ids[i])) > largest { (largest, at) = (Int(UInt32(littleEndian: ids[i])), i) }
                }
                file.release((start * text.dtype.size)..<(end * text.dtype.size))
                if largest >= limit {
                    throw DataError.badPreparedData(file: file.path, reason: "token \(largest) at position \(at) is outside the vocabulary of \(limit)")
                }
                start = end
            }
        }
    }

    /// Checks every class id against the class count, so that a damaged
    /// labels file is an error at start instead of a wrong loss.
    func checkLabels(classCount: Int) throws {
        for (shard, file) in labels.enumerated() {
            let count = manifest.shards[shard].count
            let ids = file.bytes.bindMemory(to: UInt32.self, capacity: count)
            for i in 0..<count where Int(UInt32(littleEndian: ids[i])) >= classCount {
                throw DataError.labelOutOfRange(file: file.path, index: i, label: Int(UInt32(littleEndian: ids[i])),
                                                classCount: classCount)
            }
        }
    }
}

/// This process's resident file-backed and shared memory, in bytes (the third
/// field of `/proc/self/statm`), read without allocating; `nil` where unreadable.
func fileBackedResidentBytes() -> Int? {
    let fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 128) { buffer -> Int? in
        let n = read(fd, buffer.baseAddress, 127)
        guard n > 0 else { return nil }
        var field = 0, value = 0
        for i in 0..<n {
            let c = buffer[i]
            if c == 0x20 {
                if field == 2 { return value * Int(sysconf(Int32(_SC_PAGESIZE))) }
                field += 1
                value = 0
            } else if c >= 0x30 && c <= 0x39 {
                value = value * 10 + Int(c - 0x30)
            }
        }
        return nil
    }
}
