import DataPipeline

extension ONNXGraphBuilder {
    /// The checkpoint's value preprocessing as graph nodes, so that the
    /// exported model takes raw inputs as `ddp predict` does (pixels 0...255,
    /// unscaled features), computed the way `InferenceSession.preprocess(_:rows:)`
    /// computes it: a scale is one product, a single-value standardization
    /// `(x - mean) · (1 / std)`, a per-element one `(x - mean) / std`.
    ///
    /// - Parameters:
    ///   - x: `[batch] + sampleShape` raw values.
    ///   - steps: The value-changing steps, in order.
    ///   - sampleShape: The shape of one sample, which per-element statistics take.
    func preprocess(_ x: String, steps: [PreprocessingStep], sampleShape: [Int]) -> String {
        var value = x
        for (i, step) in steps.enumerated() {
            let hint = "preprocess.\(i)"
            switch step {
            case .scale(let factor):
                value = apply("Mul", [value, scalar(factor)], hint: hint + ".scale")
            case let .standardize(mean, std) where mean.count == 1:
                let centered = apply("Sub", [value, scalar(mean[0])], hint: hint + ".center")
                value = apply("Mul", [centered, scalar(1 / std[0])], hint: hint + ".standardize")
            case let .standardize(mean, std):
                let centered = apply("Sub", [value, floats(hint + ".mean", mean, shape: sampleShape)], hint: hint + ".center")
                value = apply("Div", [centered, floats(hint + ".std", std, shape: sampleShape)], hint: hint + ".standardize")
            case .flatten, .reshape, .oneHot:
                // Shapes are the network's business (see the first layers); one-hot is for targets.
                break
            }
        }
        return value
    }
}
