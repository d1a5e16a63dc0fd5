import DataPipeline

/// Why `ddp prepare` could not run: bad input (exit 2) or a failing file system.
public enum PrepareError: Error, Equatable, CustomStringConvertible {
    /// The output directory exists already.
    case outputExists(String)
    /// An interrupted run for other inputs or options left this `.partial` directory.
    case partialMismatch(String)
    /// An option or input is unusable.
    case invalid(String)
    /// A data file is wrong (the ``DataError`` says which and how).
    case data(DataError)
    /// Reading or writing failed.
    case io(path: String, reason: String)

    /// Whether the user's input is at fault (as opposed to the system).
    public var isBadInput: Bool {
        if case .io = self { return false }
        return true
    }

    public var description: String {
        switch self {
        case .outputExists(let path):
            return "\(path) exists already; remove it or choose another --output"
        case .partialMismatch(let path):
            return "\(path) holds an interrupted preparation of other inputs or options; remove it to start afresh"
        case .invalid(let message):
            return message
        case .data(let error):
            return error.description
        case let .io(path, reason):
            return "\(path): \(reason)"
        }
    }
}
