/// Why a checkpoint could not be used for inference, or an input could not
/// be predicted on. Every case says what is wrong in terms a user can act on.
public enum InferenceError: Error, CustomStringConvertible, Equatable {
    /// The path names no checkpoint (nor a run directory holding one).
    case notACheckpoint(path: String, reason: String)
    /// An input (image file, prompt, JSON sample) is unusable; `reason` says why.
    case invalidInput(source: String, reason: String)
    /// The checkpoint's model cannot do what was asked (e.g. text generation with a classifier).
    case unsupported(String)

    public var description: String {
        switch self {
        case .notACheckpoint(let path, let reason): return "\(path): not a checkpoint: \(reason)"
        case .invalidInput(let source, let reason): return "\(source): \(reason)"
        case .unsupported(let message): return message
        }
    }
}
