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
}
