/// A prepared data set opened for training: its manifest and its shards,
/// memory-mapped. Opening reads only the manifest and checks file sizes.
public final class PreparedData {
    public let directory: String
    public let manifest: PreparedManifest
    let shards: [MappedFile]
    let labels: [MappedFile]

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
