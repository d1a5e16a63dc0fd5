import DataPipeline
import Foundation

/// `ddp prepare table`: a CSV file of any size streamed into `float32`
/// feature shards and class-id labels, with the per-feature statistics that
/// standardization needs.
public enum TablePreparation {
    public struct Options: Sendable {
        /// The label's column; negative counts from the end (`-1` is the last).
        public var labelColumn = -1
        /// Rows per shard; `nil` for about 64 MB per shard.
        public var shardRows: Int?
        public var quiet = false
        /// A test hook: fail once this many shards are written, leaving a partial run to resume.
        public var stopAfterShards: Int?

        public init() {}
    }

    /// Running per-feature statistics (Welford), resumable.
    struct Statistics: Codable, Equatable {
        var count = 0
        var mean: [Double]
        var m2: [Double]
        var minimum: [Double]
        var maximum: [Double]

        init(features: Int) {
            mean = Array(repeating: 0, count: features)
            m2 = mean
            minimum = Array(repeating: .infinity, count: features)
            maximum = Array(repeating: -.infinity, count: features)
        }

        mutating func add(_ row: [Float]) {
            count += 1
            for (f, value) in row.enumerated() {
                let x = Double(value)
                let delta = x - mean[f]
                mean[f] += delta / Double(count)
                m2[f] += delta * (x - mean[f])
                minimum[f] = min(minimum[f], x)
                maximum[f] = max(maximum[f], x)
            }
        }

        /// Population standard deviations, as ``Standardization`` measures them.
        var std: [Double] { m2.map { count > 0 ? ($0 / Double(count)).squareRoot() : 0 } }
    }

    struct Cursor: Codable, Equatable {
        /// The chunk holding the next row.
        var next: TextChunks.Position
        /// The line number of the chunk's first line.
        var line: Int
        /// Rows of that chunk already written.
        var skip: Int
        var statistics: Statistics
        var largestLabel: Int
        var columns: [String]
    }

    /// Prepares the CSV file `file` into `output`.
    ///
    /// The first line is a header when any of its fields is not a number.
    /// Labels must be non-negative integers; the classes are `0...` the largest.
    ///
    /// - Returns: The manifest written.
    /// - Throws: ``PrepareError`` naming the file and line at fault.
    public static func prepare(file: String, output: String, options: Options) throws -> PreparedManifest {
        let chunks = try wrapped { try TextChunks(inputs: [file]) }
        guard chunks.files.count == 1 else { throw PrepareError.invalid("\(file) is a directory; ddp prepare table reads one CSV file") }

        // The header and the column count, from the first line.
        var firstLine = ""
        try chunks.forEach { text, _, _ in
            firstLine = String(text.prefix { $0 != "\n" && $0 != "\r\n" })
            return false
        }
        let headerFields = firstLine.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingSpaces() }
        let columnCount = headerFields.count
        guard columnCount >= 2 else { throw PrepareError.data(.tooLittleData(file: file, reason: "a label column and no feature columns")) }
        let label = options.labelColumn < 0 ? columnCount + options.labelColumn : options.labelColumn
        guard label >= 0 && label < columnCount else {
            throw PrepareError.data(.labelColumnOutOfRange(file: file, column: options.labelColumn, columns: columnCount))
        }
        let hasHeader = headerFields.contains { CSVTable.number($0) == nil }
        let names = (0..<columnCount).filter { $0 != label }.map { hasHeader ? String(headerFields[$0]) : "column_\($0)" }
        let features = columnCount - 1
        let perShard = options.shardRows ?? max(1, (64 << 20) / (features * 4))
        let optionTable = ["label_column": "\(options.labelColumn)", "shard_rows": "\(perShard)"]
        let out = try ShardedOutput<Cursor>(output: output, inputs: [chunks.files[0]: chunks.sizes[0]], options: optionTable)
        out.stopAfterShards = options.stopAfterShards
        var cursor = out.cursor ?? Cursor(next: .init(file: 0, offset: 0), line: 1, skip: 0, statistics: Statistics(features: features),
                                          largestLabel: -1, columns: names)
        let meter = ProgressMeter(total: chunks.totalBytes, label: "table", quiet: options.quiet)
        var data: ShardFileWriter?, labels: ShardFileWriter?
        var inShard = 0
        var row = [Float](repeating: 0, count: features)
        if cursor.next.file == 0 {
            let resumeAt = cursor.next, resumeSkip = cursor.skip
            try chunks.forEach(from: cursor.next) { text, position, next in
                var line = cursor.line
                var rowsInChunk = 0
                let skip = position == resumeAt ? resumeSkip : 0
                var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
                // A chunk ends after a newline (but perhaps the file's last): the empty piece after it is no line.
                if text.hasSuffix("\n") { lines.removeLast() }
                for raw in lines {
                    defer { line += 1 }
                    let content = raw.hasSuffix("\r") ? raw.dropLast() : raw
                    if content.trimmingSpaces().isEmpty || (line == 1 && hasHeader) { continue }
                    rowsInChunk += 1
                    if rowsInChunk <= skip { continue }
                    let fields = content.split(separator: ",", omittingEmptySubsequences: false)
                    guard fields.count == columnCount else {
                        throw PrepareError.data(.raggedRow(file: file, line: line, expected: columnCount, actual: fields.count))
                    }
                    var f = 0
                    var value = 0
                    for (column, field) in fields.enumerated() {
                        let trimmed = field.trimmingSpaces()
                        guard let number = CSVTable.number(trimmed) else {
                            throw PrepareError.data(.nonNumeric(file: file, line: line, column: column, value: String(trimmed)))
                        }
                        if column == label {
                            guard number >= 0, number == number.rounded(), number < 16_777_216 else {
                                throw PrepareError.data(.nonNumeric(file: file, line: line, column: column,
                                                                    value: "\(trimmed) (a label must be a non-negative integer)"))
                            }
                            value = Int(number)
                        } else {
                            row[f] = number
                            f += 1
                        }
                    }
                    if data == nil { (data, labels) = (try out.writer("bin"), try out.writer("labels")) }
                    let bits = row.map { $0.bitPattern.littleEndian }
                    try bits.withUnsafeBufferPointer { try data!.append($0) }
                    try [UInt32(value).littleEndian].withUnsafeBufferPointer { try labels!.append($0) }
                    cursor.statistics.add(row)
                    cursor.largestLabel = max(cursor.largestLabel, value)
                    inShard += 1
                    if inShard == perShard {
                        cursor.next = position
                        cursor.skip = rowsInChunk
                        try out.finish(.init(count: inShard, data: try data!.finish(), labels: try labels!.finish()), cursor: cursor)
                        (data, labels, inShard) = (nil, nil, 0)
                    }
                }
                cursor.line = line
                meter.update(next.file == 1 ? chunks.totalBytes : chunks.bytesBefore(next))
                return true
            }
            if inShard > 0 {
                cursor.next = .init(file: 1, offset: 0)
                cursor.skip = 0
                try out.finish(.init(count: inShard, data: try data!.finish(), labels: try labels!.finish()), cursor: cursor)
            }
        }
        meter.update(chunks.totalBytes)
        meter.finish()
        let count = out.shards.reduce(0) { $0 + $1.count }
        guard count > 0 else { throw PrepareError.data(.tooLittleData(file: file, reason: "no data rows")) }
        let statistics = cursor.statistics
        let manifest = PreparedManifest(
            kind: .table, count: count,
            shardCount: perShard, shards: out.shards,
            source: .init(inputs: [file], bytes: chunks.totalBytes, options: optionTable), text: nil, images: nil,
            table: .init(features: features, columns: cursor.columns, classes: (0...max(cursor.largestLabel, 0)).map(String.init),
                         mean: statistics.mean, std: statistics.std, minimum: statistics.minimum, maximum: statistics.maximum))
        try out.publish(manifest)
        return manifest
    }
}
