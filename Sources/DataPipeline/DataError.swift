/// A failure to load or parse a data file.
///
/// Every case names the file and says what is wrong with it, so a bad path or
/// a damaged download is reported as such instead of crashing a run.
public enum DataError: Error, Equatable, CustomStringConvertible {
    /// The file does not exist.
    case fileNotFound(file: String)
    /// The file exists but could not be read.
    case unreadable(file: String, reason: String)
    /// The file ends before the `expected` number of bytes its header promises.
    case truncated(file: String, expected: Int, actual: Int)
    /// The file holds more bytes than its header accounts for.
    case trailingBytes(file: String, expected: Int, actual: Int)
    /// The file starts with the wrong magic number for its kind.
    case badMagic(file: String, expected: UInt32, actual: UInt32)
    /// The header's dimensions are unusable (zero, wrong rank, overflowing).
    case badDimensions(file: String, reason: String)
    /// An image file and its label file disagree on the number of samples.
    case countMismatch(images: String, imageCount: Int, labels: String, labelCount: Int)
    /// A label lies outside `0..<classCount`.
    case labelOutOfRange(file: String, index: Int, label: Int, classCount: Int)
    /// The label column asked for is not a column of the file.
    case labelColumnOutOfRange(file: String, column: Int, columns: Int)
    /// A compressed file could not be decompressed.
    case corruptCompressed(file: String, reason: String)
    /// A CSV row has a different number of fields than the first row.
    case raggedRow(file: String, line: Int, expected: Int, actual: Int)
    /// A CSV field is not a number (or a label is not a non-negative integer).
    case nonNumeric(file: String, line: Int, column: Int, value: String)
    /// A header line is inconsistent with the data that follows it.
    case badHeader(file: String, line: Int, reason: String)
    /// The file holds no usable samples, or too few for what was asked.
    case tooLittleData(file: String, reason: String)
    /// A text contains a character that the given vocabulary lacks.
    case unknownCharacter(file: String, character: String, offset: Int)
    /// A saved vocabulary string cannot be restored.
    case invalidVocabulary(reason: String)
    /// An image file cannot be decoded; `reason` starts with its format (`PNG: ...`).
    case badImage(file: String, reason: String)
    /// A prepared data set (its manifest or a shard) is not what its manifest says.
    case badPreparedData(file: String, reason: String)
    /// A tokenizer model could not be trained, loaded or applied.
    case tokenizer(file: String, reason: String)

    public var description: String {
        switch self {
        case let .fileNotFound(file):
            return "\(file): no such file"
        case let .unreadable(file, reason):
            return "\(file): cannot be read: \(reason)"
        case let .truncated(file, expected, actual):
            return "\(file): truncated: expected \(expected) bytes, found \(actual)"
        case let .trailingBytes(file, expected, actual):
            return "\(file): wrong size: header accounts for \(expected) bytes, file has \(actual)"
        case let .badMagic(file, expected, actual):
            return "\(file): bad magic number 0x\(String(actual, radix: 16)), expected 0x\(String(expected, radix: 16))"
        case let .badDimensions(file, reason):
            return "\(file): bad dimensions: \(reason)"
        case let .countMismatch(images, imageCount, labels, labelCount):
            return "\(images) holds \(imageCount) images but \(labels) holds \(labelCount) labels"
        case let .labelOutOfRange(file, index, label, classCount):
            return "\(file): label \(label) of sample \(index) is outside 0..<\(classCount)"
        case let .labelColumnOutOfRange(file, column, columns):
            return "\(file): label column \(column) is not one of its \(columns) columns "
                + "(0...\(columns - 1), or -\(columns)...-1 from the end; data.label_column)"
        case let .corruptCompressed(file, reason):
            return "\(file): corrupt compressed data: \(reason)"
        case let .raggedRow(file, line, expected, actual):
            return "\(file):\(line): \(actual) fields, expected \(expected)"
        case let .nonNumeric(file, line, column, value):
            return "\(file):\(line): field \(column + 1) '\(value)' is not a valid number"
        case let .badHeader(file, line, reason):
            return "\(file):\(line): bad header: \(reason)"
        case let .tooLittleData(file, reason):
            return "\(file): too little data: \(reason)"
        case let .unknownCharacter(file, character, offset):
            return "\(file): character \(character.debugDescription) at offset \(offset) is not in the vocabulary"
        case let .invalidVocabulary(reason):
            return "invalid vocabulary: \(reason)"
        case let .badImage(file, reason):
            return "\(file): \(reason)"
        case let .badPreparedData(file, reason):
            return "\(file): \(reason)"
        case let .tokenizer(file, reason):
            return "\(file): tokenizer: \(reason)"
        }
    }
}
