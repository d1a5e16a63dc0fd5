/// The images of a prepared data set, `[channels, height, width]` bytes
/// read from the mapped shards and copied as floats in `0...255` (scaling is
/// a separate ``PreprocessingStep``, as for IDX images).
public final class PreparedImages: Dataset {
    public let data: PreparedData
    public let count: Int
    public let inputShape: [Int]
    public let classes: [String]
    private let sampleBytes: Int

    /// The images of `data`, whose kind must be `images`.
    ///
    /// - Throws: ``DataError/labelOutOfRange(file:index:label:classCount:)`` for a damaged labels file.
    public init(_ data: PreparedData) throws {
        guard let images = data.manifest.images else { preconditionFailure("PreparedImages: \(data.directory) holds no images") }
        (self.data, count, inputShape, classes) = (data, data.manifest.count, images.shape, images.classes)
        sampleBytes = images.shape.reduce(1, *)
        try data.checkLabels(classCount: images.classes.count)
    }

    public var targetShape: [Int] { [] }
    public var classCount: Int? { classes.count }

    public func copySample(_ index: Int, input: UnsafeMutablePointer<Float>, target: UnsafeMutablePointer<Float>) {
        precondition(index >= 0 && index < count, "PreparedImages: index \(index) outside 0..<\(count)")
        let (shard, offset) = data.locate(index)
        let pixels = data.shards[shard].bytes.assumingMemoryBound(to: UInt8.self) + offset * sampleBytes
        for i in 0..<sampleBytes { input[i] = Float(pixels[i]) }
        target[0] = Float(data.label(index))
        data.noteRead()
    }
}
