/// A configuration that cannot be used, with where it came from.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    /// The config file, or `--set` for a command-line override.
    public let source: String
    /// The 1-based line in `source`, when known.
    public let line: Int?
    /// The dotted key, when the problem belongs to one.
    public let key: String?
    /// What is wrong, in words a user can act on.
    public let message: String

    public init(source: String, line: Int? = nil, key: String? = nil, message: String) {
        (self.source, self.line, self.key, self.message) = (source, line, key, message)
    }

    public var description: String {
        var place = source
        if let line { place += ":\(line)" }
        if let key { return "\(place): \(key): \(message)" }
        return "\(place): \(message)"
    }
}
