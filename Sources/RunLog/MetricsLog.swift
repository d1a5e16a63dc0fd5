import Foundation

/// One value of a metrics record.
public enum MetricValue: Sendable {
    case int(Int)
    case double(Double)
    case string(String)
    /// A list of integers, such as the sample indices of a skipped step.
    case ints([Int])

    var json: String {
        switch self {
        case .int(let v): return String(v)
        case .double(let v): return v.isFinite ? String(format: "%.6g", v) : "null"
        case .string(let v):
            let escaped = v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return "\"\(escaped)\""
        case .ints(let v): return "[" + v.map(String.init).joined(separator: ",") + "]"
        }
    }
}

/// Appends one JSON object per line to `metrics.jsonl`; keys keep the order given,
/// so the file reads well and diffs well.
public final class MetricsLog {
    private let handle: FileHandle
    /// The file's name in a run directory.
    public static let fileName = "metrics.jsonl"
    /// Where the records go.
    public let url: URL

    /// Opens (creating or appending to) `url`.
    public init(url: URL) throws {
        self.url = url
        if !FileManager.default.fileExists(atPath: url.path) {
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw RunLogError.cannotWrite(url.path)
            }
        }
        handle = try FileHandle(forWritingTo: url)
        handle.seekToEndOfFile()
    }

    deinit {
        try? handle.close()
    }

    /// Writes one record and flushes it, so a crash loses at most the line being written.
    public func write(_ fields: KeyValuePairs<String, MetricValue>) {
        write(Array(fields.map { ($0.key, $0.value) }))
    }

    /// Writes one record of ordered fields.
    public func write(_ fields: [(String, MetricValue)]) {
        let body = fields.map { "\"\($0.0)\":\($0.1.json)" }.joined(separator: ",")
        handle.write(Data("{\(body)}\n".utf8))
    }
}
