import DataPipeline
import XCTest

final class CSVTests: XCTestCase {
    var dir: TemporaryDirectory!

    override func setUpWithError() throws {
        dir = try TemporaryDirectory()
    }

    func testSklearnHeaderFormat() throws {
        let file = try dir.write("iris.csv", text: """
            4,2,setosa,versicolor,virginica
            5.1,3.5,0
            4.9,3.0,1\r
            6.3,3.3,2

            5.8,2.7,1
            """)
        let data = try TabularDataset.loadCSV(file: file)
        XCTAssertEqual(data.count, 4)
        XCTAssertEqual(data.inputShape, [2])
        XCTAssertEqual(data.classCount, 3)
        XCTAssertEqual(data.sample(2).input, [6.3, 3.3])
        XCTAssertEqual(data.sample(2).target, [2])
        XCTAssertEqual(data.sample(3).target, [1])
    }

    func testSklearnHeaderRowCountIsChecked() throws {
        let file = try dir.write("short.csv", text: "3,1,a,b\n1.0,0\n2.0,1\n")
        assertDataError(.badHeader(file: file, line: 1, reason: "header promises 3 rows, file has 2"), naming: "short.csv") {
            try CSVTable.load(file: file)
        }
    }

    /// Found by `launch/fuzz.sh csv`: a header's feature count is input, and
    /// an absurd one was reserved as memory (and `features + 1` could overflow).
    func testAbsurdSklearnHeaderCountsAreABadHeaderNotAnAllocation() throws {
        for header in ["3,5555555555555555,a,b", "3,\(Int.max),a,b"] {
            let file = try dir.write("huge.csv", text: header + "\n1.0,0\n2.0,1\n3.0,1\n")
            XCTAssertThrowsError(try CSVTable.load(file: file), header) { error in
                guard case DataError.badHeader = error else { return XCTFail("\(error)") }
                XCTAssertTrue("\(error)".contains("huge.csv"), "\(error)")
            }
        }
    }

    func testNoHeaderGzipAndLabelColumn() throws {
        let text = "0,1,2,3\n4,5,6,1\n"
        let file = try dir.write("digits.csv.gz", gzipStored(Array(text.utf8)))
        let table = try CSVTable.load(file: file)
        XCTAssertNil(table.columnNames)
        XCTAssertEqual(table.rowCount, 2)
        XCTAssertEqual(table[1, 2], 6)
        let first = try TabularDataset(table: table, labelColumn: 0)
        XCTAssertEqual(first.sample(1).input, [5, 6, 1])
        XCTAssertEqual(first.sample(1).target, [4])
        XCTAssertEqual(first.classCount, 5)
    }

    func testNamedHeader() throws {
        let table = try CSVTable(parsing: "x, y ,label\n1, 2, 0\n", file: "named.csv")
        XCTAssertEqual(table.columnNames, ["x", "y", "label"])
        XCTAssertEqual(table.values, [1, 2, 0])
    }

    func testRaggedRowIsRejectedWithItsLine() {
        assertDataError(.raggedRow(file: "rag.csv", line: 3, expected: 3, actual: 2), naming: "rag.csv") {
            try CSVTable(parsing: "1,2,3\n4,5,6\n7,8\n", file: "rag.csv")
        }
    }

    func testNonNumericFieldIsRejectedWithItsLine() {
        assertDataError(.nonNumeric(file: "bad.csv", line: 3, column: 1, value: "abc"), naming: "bad.csv") {
            try CSVTable(parsing: "2,1,a,b\n1,0\n1,abc\n", file: "bad.csv")
        }
        assertDataError(.nonNumeric(file: "nan.csv", line: 1, column: 0, value: "nan"), naming: "nan.csv") {
            try CSVTable(parsing: "nan,1\n", file: "nan.csv", header: .none)
        }
    }

    func testBadLabelsAreRejected() throws {
        let fractional = try CSVTable(parsing: "1,0\n2,1.5\n", file: "frac.csv")
        XCTAssertThrowsError(try TabularDataset(table: fractional)) { error in
            guard case DataError.nonNumeric("frac.csv", 2, 1, _) = error else { return XCTFail("\(error)") }
        }
        let table = try CSVTable(parsing: "1,0\n2,4\n", file: "range.csv")
        assertDataError(.labelOutOfRange(file: "range.csv", index: 1, label: 4, classCount: 3), naming: "range.csv") {
            try TabularDataset(table: table, classCount: 3)
        }
    }

    /// A label column one past the last (or before the first) is an error naming the file and key, not a crash.
    func testLabelColumnOutsideTheFileIsRejected() throws {
        let table = try CSVTable(parsing: "1,2,0\n3,4,1\n", file: "three.csv")
        for column in [3, 7, -4] {
            assertDataError(.labelColumnOutOfRange(file: "three.csv", column: column, columns: 3), naming: "three.csv") {
                try TabularDataset(table: table, labelColumn: column)
            }
        }
        XCTAssertTrue(DataError.labelColumnOutOfRange(file: "three.csv", column: 3, columns: 3).description
            .contains("data.label_column"))
        XCTAssertEqual(try TabularDataset(table: table, labelColumn: -3).sample(0).target, [1])
    }

    func testEmptyFileIsRejected() throws {
        let file = try dir.write("empty.csv", text: "\n\n")
        assertDataError(.tooLittleData(file: file, reason: "no rows"), naming: "empty.csv") {
            try CSVTable.load(file: file)
        }
    }

    func testRandomSplitIsDisjointCompleteAndSeeded() {
        let data = SyntheticClassification(count: 50, inputShape: [3], classCount: 2, seed: 1)
        let (train, validation) = splitDataset(data, validationFraction: 0.2, seed: 9)
        XCTAssertEqual(train.count, 40)
        XCTAssertEqual(validation.count, 10)
        XCTAssertEqual(Set(train.indices + validation.indices), Set(0..<50))
        XCTAssertEqual(splitDataset(data, validationFraction: 0.2, seed: 9).validation.indices, validation.indices)
        XCTAssertNotEqual(splitDataset(data, validationFraction: 0.2, seed: 10).validation.indices, validation.indices)
        XCTAssertEqual(validation.sample(3).input, data.sample(validation.indices[3]).input)
    }
}
