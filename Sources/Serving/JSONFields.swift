import Foundation

/// Why a request body was refused; the message goes back to the client as
/// is, and `field` names the offending field where there is one.
struct RequestProblem: Error, Equatable {
    let message: String
    let field: String?
    init(_ message: String, field: String? = nil) {
        (self.message, self.field) = (message, field)
    }
}

/// The typed fields of a JSON object body, each checked with a message that
/// names the field: one set of checks for every protocol the service speaks.
/// A field that is `null` counts as absent, as the protocols read it.
struct JSONFields {
    let object: [String: Any]

    /// Parses `body` as a JSON object.
    init(body: Data) throws {
        guard !body.isEmpty else { throw RequestProblem("empty body: send a JSON object") }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed])
        } catch {
            throw RequestProblem("body is not valid JSON")
        }
        guard let object = parsed as? [String: Any] else { throw RequestProblem("body must be a JSON object") }
        self.object = object
    }

    init(_ object: [String: Any]) { self.object = object }

    /// The field's value, `nil` when absent or `null`.
    subscript(key: String) -> Any? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        return value
    }

    /// Refuses the first field (in sorted order) that is not in `allowed`.
    func rejectUnknownKeys(allowed: Set<String>) throws {
        if let unknown = object.keys.filter({ !allowed.contains($0) }).sorted().first {
            throw RequestProblem("unknown field \"\(unknown)\"; accepted: " + allowed.sorted().map { "\"\($0)\"" }.joined(separator: ", "),
                                 field: unknown)
        }
    }

    /// A JSON number (not a bool, which JSONSerialization also hands over as NSNumber).
    static func number(_ any: Any) -> Double? {
        // Foundation types JSON booleans as char ("c"); JSON numbers are never chars.
        guard let n = any as? NSNumber, String(cString: n.objCType) != "c" else { return nil }
        return n.doubleValue
    }

    /// A JSON boolean.
    static func bool(_ any: Any) -> Bool? {
        guard let n = any as? NSNumber, String(cString: n.objCType) == "c" else { return nil }
        return n.boolValue
    }

    func number(_ key: String, in range: ClosedRange<Double>) throws -> Double? {
        guard let field = self[key] else { return nil }
        guard let x = Self.number(field) else { throw RequestProblem("\"\(key)\" must be a number", field: key) }
        guard range.contains(x) else {
            throw RequestProblem("\"\(key)\" = \(x) is not in \(range.lowerBound)...\(range.upperBound)", field: key)
        }
        return x
    }

    func integer(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let field = self[key] else { return nil }
        guard let x = Self.number(field), x == x.rounded(), abs(x) < 9e18 else {
            throw RequestProblem("\"\(key)\" must be an integer", field: key)
        }
        guard range.contains(Int(x)) else {
            throw RequestProblem("\"\(key)\" = \(Int(x)) is not in \(range.lowerBound)...\(range.upperBound)", field: key)
        }
        return Int(x)
    }

    func bool(_ key: String) throws -> Bool? {
        guard let field = self[key] else { return nil }
        guard let x = Self.bool(field) else { throw RequestProblem("\"\(key)\" must be true or false", field: key) }
        return x
    }

    func string(_ key: String) throws -> String? {
        guard let field = self[key] else { return nil }
        guard let x = field as? String else { throw RequestProblem("\"\(key)\" must be a string", field: key) }
        return x
    }
}
