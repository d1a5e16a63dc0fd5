import DataPipeline
import MPIRunSupport
import XCTest

/// Checks against the real downloads of `launch/fetch-data.sh`; skipped when absent.
final class RealDataTests: XCTestCase {
    func directory(_ name: String, file: String) throws -> String {
        let path = realDataDirectory() + "/" + name
        guard FileManager.default.fileExists(atPath: path + "/" + file) else {
            throw Prerequisite.missing("\(path)/\(file) not present; run launch/fetch-data.sh")
        }
        return path
    }

    func testMNIST() throws {
        let dir = try directory("mnist", file: "train-images-idx3-ubyte")
        let train = try IDXImageDataset.load(directory: dir, split: .train)
        let test = try IDXImageDataset.load(directory: dir, split: .test)
        XCTAssertEqual(train.count, 60000)
        XCTAssertEqual(test.count, 10000)
        XCTAssertEqual(train.inputShape, [1, 28, 28])
        XCTAssertEqual((0..<5).map(train.label), [5, 0, 4, 1, 9])
        XCTAssertEqual(test.label(0), 7)
        XCTAssertEqual(train.pixel(0, row: 5, column: 16), 126)
        XCTAssertEqual(train.sample(0).input.reduce(0, +), 27525)
    }

    func testFashionMNISTFromGzip() throws {
        let dir = try directory("fashion-mnist", file: "t10k-images-idx3-ubyte.gz")
        let test = try IDXImageDataset.load(directory: dir, split: .test)
        XCTAssertEqual(test.count, 10000)
        XCTAssertEqual(test.sample(0).input.reduce(0, +), 33456)
    }

    func testSklearnTables() throws {
        let dir = try directory("sklearn", file: "iris.csv")
        let iris = try SklearnTable.iris.load(directory: dir)
        XCTAssertEqual([iris.count, iris.featureCount, iris.classCount], [150, 4, 3])
        XCTAssertEqual(iris.sample(0).input, [5.1, 3.5, 1.4, 0.2])
        let wine = try SklearnTable.wine.load(directory: dir)
        XCTAssertEqual([wine.count, wine.featureCount, wine.classCount], [178, 13, 3])
        let digits = try SklearnTable.digits.load(directory: dir)
        XCTAssertEqual([digits.count, digits.featureCount, digits.classCount], [1797, 64, 10])
        XCTAssertEqual(digits.sample(0).target, [0])
    }

    func testShakespeare() throws {
        let dir = try directory("shakespeare", file: "shakespeare.txt")
        let corpus = try CharacterCorpus.load(file: dir + "/shakespeare.txt", contextLength: 64)
        XCTAssertGreaterThan(corpus.vocabulary.count, 60)
        XCTAssertLessThan(corpus.vocabulary.count, 200)
        XCTAssertGreaterThan(corpus.train.count, 60_000)
        XCTAssertGreaterThan(corpus.validation.count, 7_000)
    }
}
