import Foundation
import Yams

/// A run configuration after loading, overriding and validation: every key of
/// ``ConfigSchema`` that applies, with a value.
public struct ResolvedConfig: Sendable, Equatable {
    /// Values by dotted key; keys that do not apply to the chosen model or data set are absent.
    public var values: [String: ConfigValue] { table.values }
    /// The file the config came from.
    public let source: String
    /// The same values typed: what the trainer, the data loaders and the
    /// model builders read, built once here after validation.
    public let run: RunConfig
    private let table: ConfigTable

    init(values: [String: ConfigValue], source: String) {
        table = ConfigTable(values: values)
        self.source = source
        run = RunConfig(table)
    }

    /// Loads `path`, applies `overrides` (`key=value`, YAML scalar or list syntax) and validates.
    ///
    /// - Throws: ``ConfigError`` naming the file, line and key of the first problem.
    public static func load(path: String, overrides: [String] = []) throws -> ResolvedConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(source: path, message: "cannot read the config file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(source: path, message: "the config file is not UTF-8 text")
        }
        return try parse(yaml: text, source: path, overrides: overrides)
    }

    /// Parses YAML text; `source` names it in errors.
    public static func parse(yaml: String, source: String, overrides: [String] = []) throws -> ResolvedConfig {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw ConfigError(source: source, line: Self.line(of: error), message: "not valid YAML: \(Self.problem(of: error))")
        }
        var entries: [String: (ConfigValue, Int?)] = [:]
        if let root {
            guard let mapping = root.mapping else {
                throw ConfigError(source: source, line: root.mark?.line, message: "expected a mapping of sections (model:, data:, ...)")
            }
            try flatten(mapping, prefix: "", source: source, into: &entries)
        }
        for override in overrides {
            let (key, value) = try parseOverride(override)
            entries[key] = (value, nil)
        }
        return try resolve(entries, source: source, overrideKeys: Set(overrides.compactMap { $0.split(separator: "=", maxSplits: 1).first.map(String.init) }))
    }

    /// The value of `key`; a programming error if the schema has no such key or it does not apply.
    public subscript(key: String) -> ConfigValue { table[key] }

    func int(_ key: String) -> Int { table.int(key) }
    func double(_ key: String) -> Double { table.double(key) }
    func string(_ key: String) -> String { table.string(key) }

    /// The config as YAML, keys sorted: what a run directory records and what the digest covers.
    public var yaml: String {
        var lines: [String] = []
        var section = ""
        for key in values.keys.sorted() {
            let parts = key.split(separator: ".", maxSplits: 1).map(String.init)
            if parts[0] != section {
                section = parts[0]
                lines.append("\(section):")
            }
            lines.append("  \(parts[1]): \(values[key]!)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A 64-bit FNV-1a digest of ``yaml``, compared across ranks and stored in checkpoints.
    public var digest: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in yaml.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return String(hash, radix: 16).leftPadded(to: 16)
    }

    // MARK: - Loading

    private static func flatten(_ mapping: Node.Mapping, prefix: String, source: String,
                                into entries: inout [String: (ConfigValue, Int?)]) throws {
        for (keyNode, valueNode) in mapping {
            guard let name = keyNode.string else {
                throw ConfigError(source: source, line: keyNode.mark?.line, message: "keys must be strings")
            }
            let dotted = ConfigSchema.currentName(prefix.isEmpty ? name : "\(prefix).\(name)")
            let line = keyNode.mark?.line
            if let nested = valueNode.mapping {
                guard ConfigSchema.keys.contains(where: { $0.name.hasPrefix(dotted + ".") }) else {
                    throw unknownKey(dotted, source: source, line: line)
                }
                try flatten(nested, prefix: dotted, source: source, into: &entries)
                continue
            }
            guard let key = ConfigSchema.key(dotted) else { throw unknownKey(dotted, source: source, line: line) }
            if entries[dotted] != nil {
                let alias = ConfigSchema.renamedKeys.first { $0.value == dotted }.map { " (\($0.key) is its old name)" } ?? ""
                throw ConfigError(source: source, line: line, key: dotted, message: "set twice\(alias)")
            }
            entries[dotted] = (try convert(valueNode, for: key, source: source, line: valueNode.mark?.line ?? line), line)
        }
    }

    private static func unknownKey(_ name: String, source: String, line: Int?) -> ConfigError {
        let hint = ConfigSchema.closestKey(to: name).map { " (did you mean \($0)?)" } ?? ""
        return ConfigError(source: source, line: line, key: name,
                           message: "unknown key\(hint); `ddp config keys` lists every key")
    }

    private static func parseOverride(_ text: String) throws -> (String, ConfigValue) {
        let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty else {
            throw ConfigError(source: "--set", message: "'\(text)' is not of the form key=value")
        }
        let name = ConfigSchema.currentName(parts[0].trimmingCharacters(in: .whitespaces))
        guard let key = ConfigSchema.key(name) else { throw unknownKey(name, source: "--set", line: nil) }
        let node: Node
        do {
            node = try Yams.compose(yaml: parts[1]) ?? Node("")
        } catch {
            throw ConfigError(source: "--set", key: name, message: "'\(parts[1])' is not a valid value: expected \(key.kind.expectation)")
        }
        return (name, try convert(node, for: key, source: "--set", line: nil))
    }

    private static func convert(_ node: Node, for key: ConfigKey, source: String, line: Int?) throws -> ConfigValue {
        let shown = node.scalar?.string ?? (node.sequence != nil ? "a list" : "a mapping")
        func fail() -> ConfigError {
            ConfigError(source: source, line: line, key: key.name,
                        message: "expected \(key.kind.expectation), got '\(shown)'")
        }
        switch key.kind {
        case .int(let range):
            guard node.scalar != nil, let v = node.int, range.contains(v) else { throw fail() }
            return .int(v)
        case .double(let range, let lowerOpen):
            guard node.scalar != nil, let v = node.float ?? node.int.map(Double.init), v.isFinite,
                  range.contains(v), !(lowerOpen && v == range.lowerBound) else { throw fail() }
            return .double(v)
        case .bool:
            guard node.scalar != nil, let v = node.bool else { throw fail() }
            return .bool(v)
        case .choice(let options):
            guard let v = node.scalar?.string, options.contains(v) else { throw fail() }
            return .string(v)
        case .string:
            guard let v = node.scalar?.string else { throw fail() }
            return .string(v)
        case .intList(let range):
            // A lone number is refused, not read as a one-item list: `--set model.hidden=5`
            // more likely means a mistake than one hidden layer of 5.
            let items = node.sequence.map(Array.init) ?? []
            let ints = items.compactMap { $0.int }
            guard !items.isEmpty, ints.count == items.count, ints.allSatisfy(range.contains) else { throw fail() }
            return .intList(ints)
        case .stepList:
            guard let items = node.sequence.map(Array.init) else { throw fail() }
            let steps = items.compactMap { $0.int }
            guard steps.count == items.count, steps.allSatisfy({ $0 >= 1 }) else { throw fail() }
            return .intList(Array(Set(steps)).sorted())
        }
    }

    private static func resolve(_ entries: [String: (ConfigValue, Int?)], source: String,
                                overrideKeys: Set<String>) throws -> ResolvedConfig {
        var values: [String: ConfigValue] = [:]
        // Unconditional keys first, so conditions can look at them.
        for key in ConfigSchema.keys where key.condition == nil {
            if let (value, _) = entries[key.name] {
                values[key.name] = value
            } else if let fallback = key.defaultValue {
                values[key.name] = fallback
            } else {
                throw ConfigError(source: source, key: key.name, message: "required, expected \(key.kind.expectation)")
            }
        }
        for key in ConfigSchema.keys {
            guard let condition = key.condition else { continue }
            let applies: Bool
            if case .string(let current)? = values[condition.key] {
                applies = condition.values.contains(current)
            } else {
                applies = false
            }
            if applies {
                values[key.name] = entries[key.name]?.0 ?? key.defaultValue
            } else if let (_, line) = entries[key.name] {
                let origin = overrideKeys.contains(key.name) ? "--set" : source
                throw ConfigError(source: origin, line: line, key: key.name,
                                  message: "does not apply when \(condition.key) is \(values[condition.key].map { "\($0)" } ?? "unset") (it applies to \(condition.values.joined(separator: ", ")))")
            }
        }
        let config = ResolvedConfig(values: values, source: source)
        try config.checkConsistency()
        return config
    }

    private func checkConsistency() throws {
        if int("training.epochs") == 0 && int("training.steps") == 0 {
            throw ConfigError(source: source, key: "training.steps",
                              message: "training.epochs and training.steps are both 0: the run would never end")
        }
        if string("model.kind") == "gpt", let width = values["model.width"], let heads = values["model.heads"],
           case .int(let w) = width, case .int(let h) = heads, w % h != 0 {
            throw ConfigError(source: source, key: "model.heads",
                              message: "model.width \(w) is not divisible by model.heads \(h)")
        }
        let dataset = string("data.dataset")
        if (dataset == "csv" || dataset == "prepared") && string("data.path").isEmpty {
            throw ConfigError(source: source, key: "data.path", message: "required when data.dataset is \(dataset)")
        }
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
        default: return nil
        }
    }

    private static func problem(of error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _): return problem
        default: return "\(error)"
        }
    }
}

private extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
