import TensorCore

/// A layer's weight and optional bias, bound to their places in a
/// ``ParameterStore``: the part of binding and initialization that `Linear`
/// and `Conv2d` share.
struct WeightAndBias {
    private(set) var weight: Tensor?
    private(set) var weightGradient: Tensor?
    private(set) var bias: Tensor?
    private(set) var biasGradient: Tensor?
    private var weightName = "weight"

    /// Binds `prefix + "weight"` and, with `hasBias`, `prefix + "bias"`.
    mutating func bind(to store: ParameterStore, prefix: String, hasBias: Bool) {
        weightName = prefix + "weight"
        weight = store.value(weightName)
        weightGradient = store.gradient(weightName)
        if hasBias {
            bias = store.value(prefix + "bias")
            biasGradient = store.gradient(prefix + "bias")
        }
    }

    /// Fills the weight from its stream of `seed` and zeroes the bias.
    ///
    /// - Parameters:
    ///   - fanIn: Inputs feeding one output unit.
    ///   - fanOut: Outputs one input unit feeds.
    ///   - scheme: The weight's distribution.
    ///   - seed: The model seed.
    ///   - layer: The layer's type name, for the misuse message.
    func initialize(fanIn: Int, fanOut: Int, scheme: WeightInitialization, seed: UInt64, layer: String) {
        guard let weight else { preconditionFailure("\(layer): initializeParameters before bind") }
        initializeWeight(weight, name: weightName, fanIn: fanIn, fanOut: fanOut, scheme: scheme, seed: seed)
        bias?.fill(0)
    }
}
