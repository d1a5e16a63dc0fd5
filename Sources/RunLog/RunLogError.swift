/// A run log that cannot be written.
public enum RunLogError: Error, CustomStringConvertible, Equatable {
    /// The file at this path could not be created or written.
    case cannotWrite(String)

    public var description: String {
        switch self {
        case .cannotWrite(let path): return "\(path): cannot write"
        }
    }
}
