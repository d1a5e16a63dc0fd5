/// A typed value of one configuration key.
public enum ConfigValue: Equatable, Sendable, CustomStringConvertible {
    case int(Int)
    case double(Double)
    case bool(Bool)
    case string(String)
    case intList([Int])

    /// The value as YAML would spell it, used for the resolved config and its digest.
    public var description: String {
        switch self {
        case .int(let v): return String(v)
        case .double(let v): return v == v.rounded() && abs(v) < 1e15 ? String(format: "%.1f", v) : "\(v)"
        case .bool(let v): return v ? "true" : "false"
        case .string(let v): return v.isEmpty || v.contains(where: { ":#[]{},'\"".contains($0) }) ? "\"\(v)\"" : v
        case .intList(let v): return "[" + v.map(String.init).joined(separator: ", ") + "]"
        }
    }
}

import Foundation
