/// Why a model could not be compressed.
public enum CompressionError: Error, Equatable, CustomStringConvertible {
    /// The requested compression does not apply to this model kind.
    case unsupported(model: String, what: String)
    /// An option is out of range or the combination makes no sense.
    case invalidOption(String)

    public var description: String {
        switch self {
        case .unsupported(let model, let what):
            return "\(what) is not supported for \(model) models (mlp and cnn only)"
        case .invalidOption(let message):
            return message
        }
    }
}
