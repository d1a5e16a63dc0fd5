/// How the first line of a CSV file is interpreted.
public enum CSVHeader: Sendable {
    /// Every line is data.
    case none
    /// The first line names the columns.
    case names
    /// scikit-learn's form: `samples,features,class names...`, e.g.
    /// `150,4,setosa,versicolor,virginica` for iris.
    case sklearn
    /// No header if the first line is all numbers; scikit-learn's form if it
    /// starts with two integers; column names otherwise.
    case automatic
}

/// A numeric table read from a CSV file: every field a finite number, every
/// row as wide as the first.
public struct CSVTable: Sendable {
    /// The file the table came from, for error messages.
    public let file: String
    /// The column names of a ``CSVHeader/names`` header.
    public let columnNames: [String]?
    /// The class names of a ``CSVHeader/sklearn`` header.
    public let classNames: [String]?
    /// The number of fields in every row.
    public let columnCount: Int
    /// The values, row by row.
    public let values: [Float]
    /// The 1-based line in the file of each row, for error messages.
    public let lineNumbers: [Int]

    /// The number of data rows.
    public var rowCount: Int { lineNumbers.count }

    /// The value at `row`, `column`.
    public subscript(row: Int, column: Int) -> Float {
        precondition(row >= 0 && row < rowCount && column >= 0 && column < columnCount,
                     "CSVTable: (\(row), \(column)) outside \(rowCount)x\(columnCount)")
        return values[row * columnCount + column]
    }

    /// Reads `file` (gzip'd or not) as a numeric table.
    /// - Throws: ``DataError`` naming the file and, for bad rows, the line.
    public static func load(file: String, header: CSVHeader = .automatic) throws -> CSVTable {
        let bytes = try FileBytes.read(file)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw DataError.unreadable(file: file, reason: "not valid UTF-8")
        }
        return try CSVTable(parsing: text, file: file, header: header)
    }

    /// Parses CSV text; `file` names it in errors. Blank lines are skipped.
    public init(parsing text: String, file: String, header: CSVHeader = .automatic) throws {
        var lines: [(number: Int, fields: [Substring])] = []
        var number = 0
        // isNewline, not "\n": Swift treats "\r\n" as one Character, so
        // splitting on "\n" alone would leave CRLF files as a single line.
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            number += 1
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            lines.append((number, line.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingSpaces() }))
        }
        guard let first = lines.first else {
            throw DataError.tooLittleData(file: file, reason: "no rows")
        }

        var mode = header
        if mode == .automatic {
            if first.fields.allSatisfy({ CSVTable.number($0) != nil }) {
                mode = .none
            } else if first.fields.count >= 2, Int(first.fields[0]) != nil, Int(first.fields[1]) != nil {
                mode = .sklearn
            } else {
                mode = .names
            }
        }

        var expectedRows: Int?
        var columnCount = first.fields.count
        var columnNames: [String]?
        var classNames: [String]?
        var dataLines = lines[...]
        switch mode {
        case .none, .automatic:
            break
        case .names:
            columnNames = first.fields.map(String.init)
            dataLines = lines.dropFirst()
        case .sklearn:
            guard first.fields.count >= 2, let rows = Int(first.fields[0]), let features = Int(first.fields[1]),
                  rows >= 0, features >= 0, features < text.utf8.count else {
                throw DataError.badHeader(file: file, line: first.number,
                                          reason: "expected 'samples,features,class names...'")
            }
            expectedRows = rows
            classNames = first.fields.dropFirst(2).map(String.init)
            // Features plus the label column.
            columnCount = features + 1
            dataLines = lines.dropFirst()
        }
        if let width = dataLines.first?.fields.count, mode == .none || mode == .automatic {
            columnCount = width
        }

        var values: [Float] = []
        // The header's column count is input: reserve only what the lines can fill.
        if dataLines.count.multipliedReportingOverflow(by: columnCount).overflow == false {
            values.reserveCapacity(min(dataLines.count * columnCount, text.utf8.count))
        }
        var lineNumbers: [Int] = []
        lineNumbers.reserveCapacity(dataLines.count)
        for line in dataLines {
            guard line.fields.count == columnCount else {
                throw DataError.raggedRow(file: file, line: line.number, expected: columnCount, actual: line.fields.count)
            }
            for (column, field) in line.fields.enumerated() {
                guard let value = CSVTable.number(field) else {
                    throw DataError.nonNumeric(file: file, line: line.number, column: column, value: String(field))
                }
                values.append(value)
            }
            lineNumbers.append(line.number)
        }
        if let expectedRows, expectedRows != lineNumbers.count {
            throw DataError.badHeader(file: file, line: first.number,
                                      reason: "header promises \(expectedRows) rows, file has \(lineNumbers.count)")
        }
        guard !lineNumbers.isEmpty else {
            throw DataError.tooLittleData(file: file, reason: "no data rows")
        }
        (self.file, self.columnNames, self.classNames) = (file, columnNames, classNames)
        (self.columnCount, self.values, self.lineNumbers) = (columnCount, values, lineNumbers)
    }

    /// A finite number, or `nil`; Float's parser alone would accept "nan" and "inf".
    public static func number(_ field: Substring) -> Float? {
        guard let value = Float(field), value.isFinite else { return nil }
        return value
    }
}

extension Substring {
    /// The field without leading and trailing spaces and tabs.
    public func trimmingSpaces() -> Substring {
        var s = self[...]
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return s
    }
}
