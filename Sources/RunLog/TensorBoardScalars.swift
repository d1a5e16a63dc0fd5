/// Which fields of a `metrics.jsonl` record become TensorBoard scalars, and under which tags.
///
/// Train records give `train/loss`, `train/accuracy`, `train/lr` and
/// `train/samples_per_second`; eval records give `eval/<split>/loss`,
/// `eval/<split>/accuracy` and `eval/<split>/perplexity`. Fields a record does
/// not have (accuracy for a language model) and non-finite values are left out.
public enum TensorBoardScalars {
    /// The fields of a train record that are plotted.
    public static let trainFields = ["loss", "accuracy", "lr", "samples_per_second"]
    /// The fields of an eval record that are plotted.
    public static let evalFields = ["loss", "accuracy", "perplexity", "bits_per_character"]

    /// The step and tagged scalars of one metrics record.
    ///
    /// - Parameter fields: The record's ordered fields, including `kind` and `step`.
    /// - Returns: `nil` when the record has no step, an unknown kind, or nothing to plot.
    public static func scalars(of fields: [(String, MetricValue)]) -> (step: Int, scalars: [(tag: String, value: Float)])? {
        var kind: String?, split = "validation", step: Int?
        var numbers: [String: Double] = [:]
        for (key, value) in fields {
            switch (key, value) {
            case ("kind", .string(let v)): kind = v
            case ("split", .string(let v)): split = v
            case ("step", .int(let v)): step = v
            case (_, .int(let v)): numbers[key] = Double(v)
            case (_, .double(let v)): numbers[key] = v
            default: break
            }
        }
        guard let step else { return nil }
        let prefix: String, wanted: [String]
        switch kind {
        case "train": (prefix, wanted) = ("train/", trainFields)
        case "eval": (prefix, wanted) = ("eval/\(split)/", evalFields)
        default: return nil
        }
        let scalars = wanted.compactMap { name -> (tag: String, value: Float)? in
            guard let v = numbers[name], v.isFinite else { return nil }
            return (prefix + name, Float(v))
        }
        return scalars.isEmpty ? nil : (step, scalars)
    }
}
