import TensorCore

/// How a weight matrix is filled at initialization. Biases are always zero.
public enum WeightInitialization: Sendable, Equatable {
    /// Uniform in ±sqrt(6 / fanIn): keeps activation variance through ReLU (He et al.).
    case kaimingUniform
    /// Uniform in ±sqrt(6 / (fanIn + fanOut)): suits tanh (Glorot and Bengio).
    case xavierUniform
    /// Normal with the given standard deviation (the GPT-2 convention uses 0.02).
    case normal(standardDeviation: Float)
}

/// A stream number for the parameter called `name`: FNV-1a of its UTF-8 bytes.
///
/// Swift's `Hashable` is seeded per process, so it would break "same seed, same
/// bits on every rank"; a fixed hash also makes a parameter's values independent
/// of the order in which layers are visited.
public func parameterStream(_ name: String) -> UInt64 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in name.utf8 {
        hash ^= UInt64(byte)
        hash = hash &* 0x0000_0100_0000_01B3
    }
    return hash
}

/// Fills `weight` from its own stream of `seed`.
///
/// - Parameters:
///   - weight: The parameter view.
///   - name: The parameter's full name (selects the random stream).
///   - fanIn: Inputs feeding one output unit.
///   - fanOut: Outputs one input unit feeds.
///   - scheme: The distribution.
///   - seed: The model seed.
public func initializeWeight(_ weight: Tensor, name: String, fanIn: Int, fanOut: Int,
                             scheme: WeightInitialization, seed: UInt64) {
    var generator = RandomGenerator(seed: seed, stream: parameterStream(name))
    let p = weight.pointer
    switch scheme {
    case .kaimingUniform, .xavierUniform:
        let bound: Float
        if case .kaimingUniform = scheme {
            bound = (6 / Float(max(fanIn, 1))).squareRoot()
        } else {
            bound = (6 / Float(max(fanIn + fanOut, 1))).squareRoot()
        }
        for i in 0..<weight.count {
            p[i] = (2 * generator.nextUniform() - 1) * bound
        }
    case .normal(let standardDeviation):
        for i in 0..<weight.count {
            p[i] = generator.nextNormal() * standardDeviation
        }
    }
}
