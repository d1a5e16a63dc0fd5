/// One explicit transformation of samples, applied on copy.
///
/// Steps run in order on each sample as it is copied, so the stored data stay
/// compact (bytes for images) and the same data set can be viewed several ways.
public enum PreprocessingStep: Equatable, Codable, Sendable {
    /// Multiplies every input value by `factor` (e.g. `1 / 255` for pixels).
    case scale(Float)
    /// Replaces each input value `x` by `(x - mean) / std`. One value applies
    /// to every feature; otherwise there is one value per input element.
    case standardize(mean: [Float], std: [Float])
    /// Gives inputs the shape `[inputSize]`.
    case flatten
    /// Gives inputs another shape with the same number of elements.
    case reshape([Int])
    /// Turns a class-id target into a one-hot vector of `classCount` floats
    /// (for mean-squared-error losses).
    case oneHot
}

/// A data set seen through a list of ``PreprocessingStep``s.
public final class PreprocessedDataset: Dataset {
    /// The data set the raw samples come from.
    public let base: Dataset
    /// The steps, in the order they apply.
    public let steps: [PreprocessingStep]
    public let inputShape: [Int]
    public let targetShape: [Int]

    /// Wraps `base`; the steps are checked against its shapes now, not per sample.
    public init(_ base: Dataset, steps: [PreprocessingStep]) {
        var inputShape = base.inputShape
        var targetShape = base.targetShape
        let inputSize = base.inputSize
        for step in steps {
            switch step {
            case .scale:
                break
            case let .standardize(mean, std):
                precondition(mean.count == std.count && (mean.count == 1 || mean.count == inputSize),
                             "PreprocessedDataset: standardize needs 1 or \(inputSize) means and stds, got \(mean.count) and \(std.count)")
                precondition(std.allSatisfy { $0 > 0 }, "PreprocessedDataset: standardize needs positive stds")
            case .flatten:
                inputShape = [inputSize]
            case let .reshape(shape):
                precondition(shape.reduce(1, *) == inputSize,
                             "PreprocessedDataset: cannot reshape input \(inputShape) to \(shape)")
                inputShape = shape
            case .oneHot:
                precondition(targetShape == [] && base.classCount != nil,
                             "PreprocessedDataset: oneHot needs class-id targets (shape []) and a classCount")
                targetShape = [base.classCount!]
            }
        }
        (self.base, self.steps, self.inputShape, self.targetShape) = (base, steps, inputShape, targetShape)
    }

    public var count: Int { base.count }
    public var classCount: Int? { base.classCount }

    public func copySample(_ index: Int, input: UnsafeMutablePointer<Float>, target: UnsafeMutablePointer<Float>) {
        base.copySample(index, input: input, target: target)
        applySteps(input: input, target: target)
    }

    public func copySample(_ index: Int, epoch: Int, input: UnsafeMutablePointer<Float>, target: UnsafeMutablePointer<Float>) {
        base.copySample(index, epoch: epoch, input: input, target: target)
        applySteps(input: input, target: target)
    }

    private func applySteps(input: UnsafeMutablePointer<Float>, target: UnsafeMutablePointer<Float>) {
        let n = base.inputSize
        for step in steps {
            switch step {
            case let .scale(factor):
                for i in 0..<n { input[i] *= factor }
            case let .standardize(mean, std):
                if mean.count == 1 {
                    let m = mean[0], inverse = 1 / std[0]
                    for i in 0..<n { input[i] = (input[i] - m) * inverse }
                } else {
                    mean.withUnsafeBufferPointer { m in
                        std.withUnsafeBufferPointer { s in
                            for i in 0..<n { input[i] = (input[i] - m[i]) / s[i] }
                        }
                    }
                }
            case .flatten, .reshape:
                break
            case .oneHot:
                let classes = targetShape[0]
                let label = Int(target[0])
                precondition(label >= 0 && label < classes, "PreprocessedDataset: label \(label) outside 0..<\(classes)")
                target.update(repeating: 0, count: classes)
                target[label] = 1
            }
        }
    }
}

/// Means and standard deviations of a data set's inputs.
public struct Standardization: Equatable, Codable, Sendable {
    /// One mean, or one per input element.
    public var mean: [Float]
    /// One standard deviation, or one per input element; never zero.
    public var std: [Float]

    /// Measures `dataset`'s inputs (normally the training split, so that
    /// validation data do not leak into the statistics).
    /// - Parameters:
    ///   - dataset: The samples to measure.
    ///   - perFeature: One statistic per input element rather than one overall.
    public init(measuring dataset: Dataset, perFeature: Bool) {
        precondition(dataset.count > 0, "Standardization: empty data set")
        let n = dataset.inputSize
        let slots = perFeature ? n : 1
        // Sums in Double: a float sum over 47 million pixels loses digits.
        var sum = [Double](repeating: 0, count: slots)
        var squares = [Double](repeating: 0, count: slots)
        let input = UnsafeMutablePointer<Float>.allocate(capacity: n)
        let target = UnsafeMutablePointer<Float>.allocate(capacity: max(dataset.targetSize, 1))
        defer { input.deallocate(); target.deallocate() }
        for index in 0..<dataset.count {
            dataset.copySample(index, input: input, target: target)
            for i in 0..<n {
                let x = Double(input[i])
                let slot = perFeature ? i : 0
                sum[slot] += x
                squares[slot] += x * x
            }
        }
        let samples = Double(dataset.count) * Double(perFeature ? 1 : n)
        mean = sum.map { Float($0 / samples) }
        std = zip(sum, squares).map { s, q in
            let m = s / samples
            let deviation = max(q / samples - m * m, 0).squareRoot()
            // Constant features (MNIST's blank borders) would divide by zero;
            // leaving them unscaled maps them to 0 all the same.
            return deviation > 1e-6 ? Float(deviation) : 1
        }
    }

    /// Given statistics, e.g. restored from a checkpoint.
    public init(mean: [Float], std: [Float]) {
        precondition(mean.count == std.count, "Standardization: \(mean.count) means but \(std.count) stds")
        self.mean = mean
        self.std = std
    }

    /// The step that applies these statistics.
    public var step: PreprocessingStep { .standardize(mean: mean, std: std) }
}

extension Dataset {
    /// This data set seen through `steps`.
    public func preprocessed(_ steps: [PreprocessingStep]) -> PreprocessedDataset {
        PreprocessedDataset(self, steps: steps)
    }
}
