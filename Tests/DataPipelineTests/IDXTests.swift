import DataPipeline
import XCTest

final class IDXTests: XCTestCase {
    var dir: TemporaryDirectory!

    override func setUpWithError() throws {
        dir = try TemporaryDirectory()
    }

    /// Three 2x3 images with pixel value `100 * image + position`, labels 2, 0, 1.
    func writeGood(imagesName: String = "images", labelsName: String = "labels", gzip: Bool = false) throws
        -> (String, String)
    {
        let pixels = (0..<3).flatMap { image in (0..<6).map { UInt8(100 * image + $0) } }
        var images = idxBytes(dimensions: [3, 2, 3], payload: pixels)
        var labels = idxBytes(dimensions: [3], payload: [2, 0, 1])
        if gzip {
            images = gzipStored(images)
            labels = gzipStored(labels)
        }
        return (try dir.write(imagesName, images), try dir.write(labelsName, labels))
    }

    func testReadsImagesAndLabelsExactly() throws {
        let (images, labels) = try writeGood()
        let data = try IDXImageDataset(imagesFile: images, labelsFile: labels, classCount: 3)
        XCTAssertEqual(data.count, 3)
        XCTAssertEqual(data.inputShape, [1, 2, 3])
        XCTAssertEqual(data.targetShape, [])
        XCTAssertEqual(data.classCount, 3)
        XCTAssertEqual(data.pixel(2, row: 1, column: 0), 203)
        XCTAssertEqual(data.label(0), 2)
        let sample = data.sample(1)
        XCTAssertEqual(sample.input, [100, 101, 102, 103, 104, 105])
        XCTAssertEqual(sample.target, [0])
    }

    func testReadsGzipDirectly() throws {
        let (images, labels) = try writeGood(imagesName: "images.gz", labelsName: "labels.gz", gzip: true)
        let data = try IDXImageDataset(imagesFile: images, labelsFile: labels, classCount: 3)
        XCTAssertEqual(data.sample(2).input, [200, 201, 202, 203, 204, 205])
        XCTAssertEqual(data.sample(2).target, [1])
    }

    func testDirectoryLoaderPrefersPlainAndFallsBackToGzip() throws {
        // Images only as ".gz", labels plain: both are found.
        try dir.write("train-images-idx3-ubyte.gz",
                      gzipStored(idxBytes(dimensions: [3, 2, 3], payload: [UInt8](repeating: 9, count: 18))))
        try dir.write("train-labels-idx1-ubyte", idxBytes(dimensions: [3], payload: [2, 0, 1]))
        // A plain file next to a ".gz" one wins.
        try dir.write("train-labels-idx1-ubyte.gz", gzipStored(idxBytes(dimensions: [3], payload: [5, 5, 5])))
        let data = try IDXImageDataset.load(directory: dir.path, split: .train)
        XCTAssertEqual(data.pixel(0, row: 0, column: 0), 9)
        XCTAssertEqual(data.label(0), 2)
        assertDataError(.fileNotFound(file: dir.path + "/t10k-images-idx3-ubyte"), naming: "t10k-images") {
            try IDXImageDataset.load(directory: dir.path, split: .test)
        }
    }

    func testLargeGzipSpanningManyBlocks() throws {
        let payload = (0..<(200 * 28 * 28)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let images = try dir.write("big.gz", gzipStored(idxBytes(dimensions: [200, 28, 28], payload: payload)))
        let labels = try dir.write("big-labels", idxBytes(dimensions: [200], payload: (0..<200).map { UInt8($0 % 10) }))
        let data = try IDXImageDataset(imagesFile: images, labelsFile: labels)
        XCTAssertEqual(data.pixel(199, row: 27, column: 27), payload.last)
        XCTAssertEqual(data.label(123), 3)
    }

    func testTruncatedFileIsRejected() throws {
        let (_, labels) = try writeGood()
        let full = idxBytes(dimensions: [3, 2, 3], payload: [UInt8](repeating: 1, count: 18))
        let images = try dir.write("short", Array(full.dropLast(5)))
        assertDataError(.truncated(file: images, expected: 16 + 18, actual: 16 + 13), naming: "short") {
            try IDXImageDataset(imagesFile: images, labelsFile: labels)
        }
        let header = try dir.write("header-only", Array(full.prefix(9)))
        assertDataError(.truncated(file: header, expected: 16, actual: 9), naming: "header-only") {
            try IDXImageDataset(imagesFile: header, labelsFile: labels)
        }
    }

    func testWrongMagicIsRejected() throws {
        let (images, _) = try writeGood()
        // An image file where a label file belongs.
        assertDataError(.badMagic(file: images, expected: 0x801, actual: 0x803), naming: "images") {
            try IDXImageDataset(imagesFile: images, labelsFile: images)
        }
        let garbage = try dir.write("garbage", Array("hello world, not idx".utf8))
        XCTAssertThrowsError(try IDXImageDataset(imagesFile: garbage, labelsFile: images)) { error in
            guard case DataError.badMagic(let file, 0x803, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(file, garbage)
        }
    }

    func testWrongSizeIsRejected() throws {
        let (_, labels) = try writeGood()
        let long = idxBytes(dimensions: [3, 2, 3], payload: [UInt8](repeating: 1, count: 20))
        let images = try dir.write("long", long)
        assertDataError(.trailingBytes(file: images, expected: 34, actual: 36), naming: "long") {
            try IDXImageDataset(imagesFile: images, labelsFile: labels)
        }
        let zero = try dir.write("zero", idxBytes(dimensions: [3, 0, 3], payload: []))
        assertDataError(.badDimensions(file: zero, reason: "dimension 1 is zero"), naming: "zero") {
            try IDXImageDataset(imagesFile: zero, labelsFile: labels)
        }
    }

    func testCountMismatchIsRejected() throws {
        let (images, _) = try writeGood()
        let labels = try dir.write("four-labels", idxBytes(dimensions: [4], payload: [0, 1, 2, 0]))
        assertDataError(.countMismatch(images: images, imageCount: 3, labels: labels, labelCount: 4),
                        naming: "four-labels") {
            try IDXImageDataset(imagesFile: images, labelsFile: labels)
        }
    }

    func testLabelOutOfRangeIsRejected() throws {
        let (images, _) = try writeGood()
        let labels = try dir.write("bad-labels", idxBytes(dimensions: [3], payload: [1, 10, 2]))
        assertDataError(.labelOutOfRange(file: labels, index: 1, label: 10, classCount: 10), naming: "bad-labels") {
            try IDXImageDataset(imagesFile: images, labelsFile: labels)
        }
    }

    func testMissingAndCorruptFilesAreRejected() throws {
        let (_, labels) = try writeGood()
        let missing = dir.path + "/nope"
        assertDataError(.fileNotFound(file: missing), naming: "nope") {
            try IDXImageDataset(imagesFile: missing, labelsFile: labels)
        }
        let gz = gzipStored(idxBytes(dimensions: [3, 2, 3], payload: [UInt8](repeating: 1, count: 18)))
        let cut = try dir.write("cut.gz", Array(gz.prefix(gz.count - 20)))
        assertDataError(.corruptCompressed(file: cut, reason: "stream ends early (truncated file)"), naming: "cut.gz") {
            try IDXImageDataset(imagesFile: cut, labelsFile: labels)
        }
        var flipped = gz
        flipped[flipped.count - 6] ^= 0xff   // the CRC no longer matches
        let bad = try dir.write("crc.gz", flipped)
        XCTAssertThrowsError(try IDXImageDataset(imagesFile: bad, labelsFile: labels)) { error in
            guard case DataError.corruptCompressed(let file, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(file, bad)
        }
    }
}
