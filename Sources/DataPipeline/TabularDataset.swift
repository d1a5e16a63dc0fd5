/// Rows of numeric features with a class label or regression targets.
///
/// Inputs have shape `[featureCount]`; targets are a class id (shape `[]`)
/// or `targetCount` values (shape `[targetCount]`).
public final class TabularDataset: Dataset {
    /// The number of features per row.
    public let featureCount: Int
    /// Features, row by row.
    public let features: [Float]
    /// Targets, row by row (one class id per row for classification).
    public let targets: [Float]
    public let targetShape: [Int]
    public let classCount: Int?

    /// A classification table.
    /// - Parameters:
    ///   - features: `labels.count * featureCount` values, row by row.
    ///   - featureCount: Features per row.
    ///   - labels: A class id per row, each in `0..<classCount`.
    ///   - classCount: The number of classes.
    public init(features: [Float], featureCount: Int, labels: [Int], classCount: Int) {
        precondition(featureCount > 0 && features.count == labels.count * featureCount,
                     "TabularDataset: \(features.count) features for \(labels.count) rows of \(featureCount)")
        precondition(labels.allSatisfy { $0 >= 0 && $0 < classCount },
                     "TabularDataset: a label lies outside 0..<\(classCount)")
        self.featureCount = featureCount
        self.features = features
        self.targets = labels.map(Float.init)
        self.targetShape = []
        self.classCount = classCount
    }

    /// A regression table.
    /// - Parameters:
    ///   - features: Features, row by row.
    ///   - featureCount: Features per row.
    ///   - targets: `targetCount` values per row, row by row.
    ///   - targetCount: Targets per row.
    public init(features: [Float], featureCount: Int, targets: [Float], targetCount: Int) {
        precondition(featureCount > 0 && targetCount > 0 && features.count % featureCount == 0
                     && targets.count == features.count / featureCount * targetCount,
                     "TabularDataset: \(features.count) features and \(targets.count) targets do not form rows of \(featureCount) and \(targetCount)")
        (self.featureCount, self.features, self.targets) = (featureCount, features, targets)
        self.targetShape = [targetCount]
        self.classCount = nil
    }

    /// A classification table from a parsed CSV: one column holds the label,
    /// the others are features.
    /// - Parameters:
    ///   - table: The parsed file.
    ///   - labelColumn: The label's column; negative counts from the end
    ///     (`-1`, the default, is the last column).
    ///   - classCount: The number of classes; `nil` takes the count of class
    ///     names in a scikit-learn header, else the largest label + 1.
    /// - Throws: ``DataError`` if a label is not a non-negative integer or is
    ///   out of range, naming the file and line.
    public convenience init(table: CSVTable, labelColumn: Int = -1, classCount: Int? = nil) throws {
        let columns = table.columnCount
        let label = labelColumn < 0 ? columns + labelColumn : labelColumn
        guard label >= 0 && label < columns else {
            throw DataError.labelColumnOutOfRange(file: table.file, column: labelColumn, columns: columns)
        }
        guard columns >= 2 else {
            throw DataError.tooLittleData(file: table.file, reason: "a label column and no feature columns")
        }
        var features: [Float] = []
        features.reserveCapacity(table.rowCount * (columns - 1))
        var labels: [Int] = []
        labels.reserveCapacity(table.rowCount)
        for row in 0..<table.rowCount {
            for column in 0..<columns where column != label {
                features.append(table[row, column])
            }
            let value = table[row, label]
            guard value >= 0, value == value.rounded(), value < 16_777_216 else {
                throw DataError.nonNumeric(file: table.file, line: table.lineNumbers[row], column: label,
                                           value: "\(value) (a label must be a non-negative integer)")
            }
            labels.append(Int(value))
        }
        let classes: Int
        if let classCount {
            classes = classCount
        } else if let names = table.classNames, !names.isEmpty {
            classes = names.count
        } else {
            classes = (labels.max() ?? 0) + 1
        }
        for (row, value) in labels.enumerated() where value >= classes {
            throw DataError.labelOutOfRange(file: table.file, index: row, label: value, classCount: classes)
        }
        self.init(features: features, featureCount: columns - 1, labels: labels, classCount: classes)
    }

    /// Reads a classification CSV; see ``init(table:labelColumn:classCount:)``.
    public static func loadCSV(file: String, labelColumn: Int = -1, header: CSVHeader = .automatic,
                               classCount: Int? = nil) throws -> TabularDataset
    {
        try TabularDataset(table: CSVTable.load(file: file, header: header),
                           labelColumn: labelColumn, classCount: classCount)
    }

    public var count: Int { features.count / featureCount }
    public var inputShape: [Int] { [featureCount] }

    public func copySample(_ index: Int, input: UnsafeMutablePointer<Float>, target: UnsafeMutablePointer<Float>) {
        precondition(index >= 0 && index < count, "TabularDataset: index \(index) outside 0..<\(count)")
        let targetCount = targetShape.first ?? 1
        features.withUnsafeBufferPointer { f in
            input.update(from: f.baseAddress! + index * featureCount, count: featureCount)
        }
        targets.withUnsafeBufferPointer { t in
            target.update(from: t.baseAddress! + index * targetCount, count: targetCount)
        }
    }
}

/// The tables shipped inside scikit-learn (fetched by `launch/fetch-data.sh sklearn`).
public enum SklearnTable: String, CaseIterable, Sendable, Codable {
    /// 150 irises, 4 features, 3 classes.
    case iris
    /// 178 wines, 13 features, 3 classes.
    case wine
    /// 1797 8x8 digit images (values 0...16), 64 features, 10 classes.
    case digits

    /// The file name inside the data directory.
    public var fileName: String {
        switch self {
        case .iris: return "iris.csv"
        case .wine: return "wine_data.csv"
        case .digits: return "digits.csv.gz"
        }
    }

    /// Loads the table from `directory` (e.g. `data/sklearn`).
    public func load(directory: String) throws -> TabularDataset {
        try TabularDataset.loadCSV(file: directory + "/" + fileName, classCount: self == .digits ? 10 : nil)
    }
}
