import Foundation

/// The validated values by dotted key, read by type: the one place that
/// turns keys into values, for ``RunConfig`` to build itself from. Reading a
/// key the schema lacks, or one that does not apply, is a programming error
/// that the tests of every shipped config and model kind catch.
struct ConfigTable: Sendable, Equatable {
    let values: [String: ConfigValue]

    /// The value of `key`; a programming error if the schema has no such key or it does not apply.
    subscript(key: String) -> ConfigValue {
        guard let value = values[key] else { preconditionFailure("ResolvedConfig: no value for \(key)") }
        return value
    }

    func int(_ key: String) -> Int {
        guard case .int(let v) = self[key] else { preconditionFailure("ResolvedConfig: \(key) is not an integer") }
        return v
    }

    func double(_ key: String) -> Double {
        switch self[key] {
        case .double(let v): return v
        case .int(let v): return Double(v)
        default: preconditionFailure("ResolvedConfig: \(key) is not a number")
        }
    }

    func bool(_ key: String) -> Bool {
        guard case .bool(let v) = self[key] else { preconditionFailure("ResolvedConfig: \(key) is not a bool") }
        return v
    }

    func string(_ key: String) -> String {
        guard case .string(let v) = self[key] else { preconditionFailure("ResolvedConfig: \(key) is not a string") }
        return v
    }

    func intList(_ key: String) -> [Int] {
        guard case .intList(let v) = self[key] else { preconditionFailure("ResolvedConfig: \(key) is not a list") }
        return v
    }

    /// The keys `section.*` (not nested deeper) decoded into `type`, whose
    /// properties are the keys' names in camel case: a flat section is read
    /// in one place instead of a line per key.
    func decode<T: Decodable>(_ type: T.Type, section: String) -> T {
        let prefix = section + "."
        var object: [String: Any] = [:]
        for (key, value) in values where key.hasPrefix(prefix) && !key.dropFirst(prefix.count).contains(".") {
            let name = String(key.dropFirst(prefix.count))
            switch value {
            case .int(let v): object[name] = v
            case .double(let v): object[name] = v
            case .bool(let v): object[name] = v
            case .string(let v): object[name] = v
            case .intList(let v): object[name] = v
            }
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(T.self, from: JSONSerialization.data(withJSONObject: object))
        } catch {
            preconditionFailure("ResolvedConfig: \(section).* does not decode as \(T.self): \(error)")
        }
    }
}
