import TensorCore

/// Gaussian clusters: a classification set fixed entirely by its seed, for
/// tests and benchmarks that must not depend on downloaded files.
///
/// Each class has a centre drawn from a standard normal; sample `i` belongs
/// to class `i % classCount` and lies at its centre plus normal noise of
/// standard deviation `noise`. Inputs are materialized once so copies cost
/// what a real data set's do.
public final class SyntheticClassification: Dataset {
    public let count: Int
    public let inputShape: [Int]
    /// The number of classes.
    public let classCountValue: Int
    private let inputs: [Float]

    /// Draws the data set.
    /// - Parameters:
    ///   - count: The number of samples.
    ///   - inputShape: The shape of each input, e.g. `[784]` or `[1, 28, 28]`.
    ///   - classCount: The number of classes, at least 2.
    ///   - noise: The spread of samples around their class centre.
    ///   - seed: Fixes every value.
    public init(count: Int, inputShape: [Int], classCount: Int, noise: Float = 1, seed: UInt64) {
        precondition(count >= 0, "SyntheticClassification: negative count")
        precondition(classCount >= 2, "SyntheticClassification: need at least 2 classes")
        precondition(!inputShape.isEmpty && inputShape.allSatisfy { $0 > 0 },
                     "SyntheticClassification: bad input shape \(inputShape)")
        let size = inputShape.reduce(1, *)
        var generator = RandomGenerator(seed: seed, stream: 0xC1_0057)
        var centres = [Float](repeating: 0, count: classCount * size)
        for i in centres.indices { centres[i] = generator.nextNormal() }
        var inputs = [Float](repeating: 0, count: count * size)
        for sample in 0..<count {
            let centre = (sample % classCount) * size
            for i in 0..<size {
                inputs[sample * size + i] = centres[centre + i] + noise * generator.nextNormal()
            }
        }
        self.count = count
        self.inputShape = inputShape
        self.classCountValue = classCount
        self.inputs = inputs
    }

    public var targetShape: [Int] { [] }
    public var classCount: Int? { classCountValue }

    /// The class of sample `index`.
    public func label(_ index: Int) -> Int { index % classCountValue }

    public func copySample(_ index: Int, input: UnsafeMutablePointer<Float>, target: UnsafeMutablePointer<Float>) {
        precondition(index >= 0 && index < count, "SyntheticClassification: index \(index) outside 0..<\(count)")
        let size = inputs.count / max(count, 1)
        inputs.withUnsafeBufferPointer { source in
            input.update(from: source.baseAddress! + index * size, count: size)
        }
        target[0] = Float(index % classCountValue)
    }
}

/// Synthetic token streams for language-model benchmarks and tests.
public enum SyntheticTokens {
    /// A stream from a random first-order Markov chain in which every token
    /// has `branching` possible successors, so a model can learn it (its
    /// entropy is at most log(branching) per token) without any download.
    /// - Parameters:
    ///   - tokenCount: The length of the stream.
    ///   - vocabularySize: The number of token ids.
    ///   - branching: Successors per token, in `1...vocabularySize`.
    ///   - seed: Fixes the chain and the stream.
    /// - Returns: The token ids.
    public static func markovStream(tokenCount: Int, vocabularySize: Int, branching: Int = 4,
                                    seed: UInt64) -> [Int32]
    {
        precondition(tokenCount >= 0 && vocabularySize >= 1, "SyntheticTokens: bad sizes")
        precondition(branching >= 1 && branching <= vocabularySize,
                     "SyntheticTokens: branching \(branching) outside 1...\(vocabularySize)")
        var generator = RandomGenerator(seed: seed, stream: 0x70_4E5)
        var successors = [Int32](repeating: 0, count: vocabularySize * branching)
        for i in successors.indices { successors[i] = Int32(generator.nextIndex(below: vocabularySize)) }
        var tokens = [Int32](repeating: 0, count: tokenCount)
        var current = Int32(generator.nextIndex(below: vocabularySize))
        for i in 0..<tokenCount {
            tokens[i] = current
            current = successors[Int(current) * branching + generator.nextIndex(below: branching)]
        }
        return tokens
    }

    /// Windows over a ``markovStream(tokenCount:vocabularySize:branching:seed:)``.
    public static func dataset(tokenCount: Int, vocabularySize: Int, contextLength: Int,
                               branching: Int = 4, seed: UInt64) -> TokenWindowDataset
    {
        TokenWindowDataset(tokens: markovStream(tokenCount: tokenCount, vocabularySize: vocabularySize,
                                                branching: branching, seed: seed),
                           vocabularySize: vocabularySize, contextLength: contextLength)
    }
}
