/// The rows of a prepared table: `float32` features read from the mapped
/// shards, class-id targets.
public final class PreparedTable: Dataset {
    public let data: PreparedData
    public let count: Int
    public let featureCount: Int
    public let classes: [String]

    /// The rows of `data`, whose kind must be `table`.
    ///
    /// - Throws: ``DataError/labelOutOfRange(file:index:label:classCount:)`` for a damaged labels file.
    public init(_ data: PreparedData) throws {
        guard let table = data.manifest.table else { preconditionFailure("PreparedTable: \(data.directory) holds no table") }
        (self.data, count, featureCount, classes) = (data, data.manifest.count, table.features, table.classes)
        try data.checkLabels(classCount: table.classes.count)
    }

    public var inputShape: [Int] { [featureCount] }
    public var targetShape: [Int] { [] }
    public var classCount: Int? { classes.count }

    public func copySample(_ index: Int, input: UnsafeMutablePointer<Float>, target: UnsafeMutablePointer<Float>) {
        precondition(index >= 0 && index < count, "PreparedTable: index \(index) outside 0..<\(count)")
        let (shard, offset) = data.locate(index)
        let row = data.shards[shard].bytes + offset * featureCount * 4
        for f in 0..<featureCount {
            input[f] = Float(bitPattern: UInt32(littleEndian: row.loadUnaligned(fromByteOffset: f * 4, as: UInt32.self)))
        }
        target[0] = Float(data.label(index))
        data.noteRead()
    }

    /// The manifest's per-feature statistics as a standardization step
    /// (a constant feature keeps a standard deviation of 1).
    public var standardization: PreprocessingStep {
        let table = data.manifest.table!
        return .standardize(mean: table.mean.map { Float($0) }, std: table.std.map { $0 > 0 ? Float($0) : 1 })
    }
}
