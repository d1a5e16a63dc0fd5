import Foundation

/// One line of `metrics.jsonl`, as read back for plotting.
public struct MetricsRecord: Equatable, Sendable {
    /// `"train"` or `"eval"` (other kinds are kept but not plotted).
    public var kind: String
    /// The evaluated split (`"test"`, `"validation"`) of an eval record.
    public var split: String?
    /// The optimizer step the record was written at.
    public var step: Int
    /// Every numeric field but `step`; `null` (a non-finite value) is left out.
    public var values: [String: Double]

    public init(kind: String, split: String? = nil, step: Int, values: [String: Double]) {
        (self.kind, self.split, self.step, self.values) = (kind, split, step, values)
    }
}

/// A `metrics.jsonl` that cannot be read, naming the file and, for a bad line, its number.
public enum MetricsFileError: Error, Equatable, CustomStringConvertible {
    case missing(path: String)
    case unreadable(path: String)
    case malformed(path: String, line: Int, reason: String)

    public var description: String {
        switch self {
        case .missing(let path):
            return "\(path): no such file; a run directory gets metrics.jsonl once `ddp train --run-dir` logs its first step"
        case .unreadable(let path): return "\(path): cannot read the file (not UTF-8 text, or no permission)"
        case .malformed(let path, let line, let reason): return "\(path):\(line): \(reason)"
        }
    }
}

/// Reads the records of a `metrics.jsonl` file (see ``MetricsLog``).
public enum MetricsFile {
    /// Every record in the file, in file order; blank lines are skipped.
    ///
    /// - Parameter url: The `metrics.jsonl` file.
    /// - Throws: ``MetricsFileError`` for a missing or unreadable file, or the
    ///   first line that is not a JSON object with a string `kind` and an integer `step`.
    public static func read(_ url: URL) throws -> [MetricsRecord] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw MetricsFileError.missing(path: url.path)
        }
        guard let data = FileManager.default.contents(atPath: url.path),
              let text = String(data: data, encoding: .utf8) else {
            throw MetricsFileError.unreadable(path: url.path)
        }
        var records: [MetricsRecord] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { continue }
            do {
                records.append(try parse(trimmed))
            } catch let reason as LineError {
                throw MetricsFileError.malformed(path: url.path, line: index + 1, reason: reason.message)
            }
        }
        return records
    }

    /// The record on one line, or `nil` when the line is not one: for readers
    /// that take what they can from a file still being written (``read(_:)``
    /// is the strict reader).
    public static func record(fromLine line: String) -> MetricsRecord? {
        try? parse(line.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    private struct LineError: Error {
        let message: String
    }

    private static func parse(_ line: String) throws -> MetricsRecord {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(line.utf8), options: [])
        } catch {
            throw LineError(message: "not valid JSON: \(excerpt(line))")
        }
        guard let fields = object as? [String: Any] else {
            throw LineError(message: "expected a JSON object, found \(excerpt(line))")
        }
        guard let kind = fields["kind"] as? String else {
            throw LineError(message: "missing the string field \"kind\"")
        }
        guard let stepNumber = fields["step"] as? NSNumber, let step = Int(exactly: stepNumber.doubleValue), step >= 0 else {
            throw LineError(message: "missing the non-negative integer field \"step\"")
        }
        var values: [String: Double] = [:]
        for (key, value) in fields where key != "step" {
            // On Linux an integer such as 1 also casts to Bool, so booleans cannot be
            // told apart here; they would read as 0 or 1, which no record writes.
            if let number = value as? NSNumber {
                values[key] = number.doubleValue
            } else if !(value is NSNull), !(value is String) {
                throw LineError(message: "field \"\(key)\" is neither a number, a string nor null")
            }
        }
        return MetricsRecord(kind: kind, split: fields["split"] as? String, step: step, values: values)
    }

    private static func excerpt(_ line: String) -> String {
        line.count <= 60 ? line : String(line.prefix(57)) + "..."
    }
}
