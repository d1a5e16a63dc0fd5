/// A training run that cannot go on, with what to do about it.
public enum RunError: Error, CustomStringConvertible, Equatable {
    case cannotWrite(String)
    case dataMissing(path: String, hint: String)
    case incompatible(String)
    case nonFinite(step: Int, what: String)
    /// An anomalous step that `training.on_anomaly` says to stop at, or one
    /// rollback too many: `reason` says what was found, `detail` what to do.
    case anomaly(step: Int, reason: String, detail: String)

    public var description: String {
        switch self {
        case .cannotWrite(let path): return "\(path): cannot write"
        case .dataMissing(let path, let hint): return "\(path): data set not found; \(hint)"
        case .incompatible(let message): return message
        case .nonFinite(let step, let what): return "step \(step): \(what) is not finite (NaN or Inf)"
        case .anomaly(let step, let reason, let detail): return "step \(step): \(reason); \(detail)"
        }
    }
}
