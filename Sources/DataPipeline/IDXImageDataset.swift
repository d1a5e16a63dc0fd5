/// Labelled grayscale images from a pair of IDX files (MNIST, Fashion-MNIST).
///
/// Pixels stay as bytes (47 MB for MNIST's training set rather than 188 MB
/// as floats) and become floats in `0...255` on copy; scaling is a separate
/// ``PreprocessingStep``. Inputs have shape `[1, rows, columns]`, targets are
/// class ids (shape `[]`).
public final class IDXImageDataset: Dataset {
    /// The number of images.
    public let count: Int
    /// The height of each image.
    public let rows: Int
    /// The width of each image.
    public let columns: Int
    /// The number of classes; every label lies in `0..<classCount`.
    public let classCountValue: Int

    private let pixels: [UInt8]
    private let pixelOffset: Int
    private let labels: [UInt8]
    private let labelOffset: Int

    /// Loads and cross-checks an image file and its label file; either may be gzip'd.
    /// - Parameters:
    ///   - imagesFile: An IDX file of rank 3 (count, rows, columns).
    ///   - labelsFile: An IDX file of rank 1 (count).
    ///   - classCount: The number of classes labels must lie below.
    /// - Throws: ``DataError`` naming the file and the problem.
    public init(imagesFile: String, labelsFile: String, classCount: Int = 10) throws {
        precondition(classCount > 0 && classCount <= 256, "IDXImageDataset: classCount \(classCount) outside 1...256")
        let images = try IDXFile.load(imagesFile, rank: 3)
        let labels = try IDXFile.load(labelsFile, rank: 1)
        guard images.dimensions[0] == labels.dimensions[0] else {
            throw DataError.countMismatch(images: imagesFile, imageCount: images.dimensions[0],
                                          labels: labelsFile, labelCount: labels.dimensions[0])
        }
        let count = images.dimensions[0]
        for i in 0..<count {
            let label = Int(labels.bytes[labels.payloadOffset + i])
            if label >= classCount {
                throw DataError.labelOutOfRange(file: labelsFile, index: i, label: label, classCount: classCount)
            }
        }
        self.count = count
        self.rows = images.dimensions[1]
        self.columns = images.dimensions[2]
        self.classCountValue = classCount
        self.pixels = images.bytes
        self.pixelOffset = images.payloadOffset
        self.labels = labels.bytes
        self.labelOffset = labels.payloadOffset
    }

    public var inputShape: [Int] { [1, rows, columns] }
    public var targetShape: [Int] { [] }
    public var classCount: Int? { classCountValue }

    /// The class id of image `index`.
    public func label(_ index: Int) -> Int {
        precondition(index >= 0 && index < count, "IDXImageDataset: index \(index) outside 0..<\(count)")
        return Int(labels[labelOffset + index])
    }

    /// The raw value of one pixel of image `index`.
    public func pixel(_ index: Int, row: Int, column: Int) -> UInt8 {
        precondition(index >= 0 && index < count, "IDXImageDataset: index \(index) outside 0..<\(count)")
        precondition(row >= 0 && row < rows && column >= 0 && column < columns,
                     "IDXImageDataset: pixel (\(row), \(column)) outside \(rows)x\(columns)")
        return pixels[pixelOffset + (index * rows + row) * columns + column]
    }

    public func copySample(_ index: Int, input: UnsafeMutablePointer<Float>, target: UnsafeMutablePointer<Float>) {
        precondition(index >= 0 && index < count, "IDXImageDataset: index \(index) outside 0..<\(count)")
        let size = rows * columns
        pixels.withUnsafeBufferPointer { source in
            let start = source.baseAddress! + pixelOffset + index * size
            for i in 0..<size {
                input[i] = Float(start[i])
            }
        }
        target[0] = Float(labels[labelOffset + index])
    }
}

/// The standard file names of MNIST-style data in one directory.
public enum IDXImageSplit: String, Sendable, Codable {
    case train
    case test

    var prefix: String { self == .train ? "train" : "t10k" }
}

extension IDXImageDataset {
    /// Loads one split of an MNIST-style directory holding
    /// `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
    /// `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`, each either
    /// plain or with a `.gz` suffix (the plain file wins when both exist).
    /// - Parameters:
    ///   - directory: The directory, e.g. `data/mnist` or `data/fashion-mnist`.
    ///   - split: Which pair of files to read.
    /// - Throws: ``DataError``; `.fileNotFound` names the plain file when neither exists.
    public static func load(directory: String, split: IDXImageSplit) throws -> IDXImageDataset {
        func pick(_ name: String) -> String {
            let plain = directory + "/" + name
            let gzipped = plain + ".gz"
            if !fileExists(plain) && fileExists(gzipped) { return gzipped }
            return plain
        }
        return try IDXImageDataset(imagesFile: pick("\(split.prefix)-images-idx3-ubyte"),
                                   labelsFile: pick("\(split.prefix)-labels-idx1-ubyte"))
    }
}
