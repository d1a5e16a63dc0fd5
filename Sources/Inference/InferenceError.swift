/// Why a checkpoint could not be used for inference, or an input could not
/// be predicted on. Every case says what is wrong in terms a user can act on.
public enum InferenceError: Error, CustomStringConvertible, Equatable {
    /// An input (image file, prompt, JSON sample) is unusable; `reason` says why.
    case invalidInput(source: String, reason: String)
    /// The checkpoint's model cannot do what was asked (e.g. text generation with a classifier).
    case unsupported(String)
    /// The checkpoint's tensors do not describe a model this build can run.
    case unrecognizedModel(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidInput(let source, let reason): return "\(source): \(reason)"
        case .unsupported(let message): return message
        case .unrecognizedModel(let path, let reason): return "\(path): \(reason)"
        }
    }
}
