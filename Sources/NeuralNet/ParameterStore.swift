import TensorCore

/// Where one named parameter lives in a model's flat buffers.
public struct ParameterInfo: Sendable, Equatable {
    /// A stable dotted path, e.g. `blocks.0.attn.qkv.weight`.
    public let name: String
    /// The parameter's shape.
    public let shape: [Int]
    /// The index of its first element in the flat buffers.
    public let offset: Int
    /// The number of elements.
    public let count: Int
    /// Whether decoupled weight decay applies by default: true for matrices
    /// (weights of Linear, Conv2d, Embedding), false for biases and norms.
    public let decays: Bool

    /// The element range in the flat buffers.
    public var range: Range<Int> { offset..<(offset + count) }
}

/// All parameters of a model in one contiguous buffer, and their gradients
/// in a second buffer of the same layout.
///
/// Parameters are laid out in **reverse forward order**: the parameters of
/// the last layer come first. Backward visits layers last to first, so the
/// gradient buffer fills from offset 0 upward, and a bucket of the data
/// parallel layer is complete as soon as backward has passed its end.
/// A parameter used in several places (the tied embedding of a language
/// model) sits where its last gradient contribution is written.
public final class ParameterStore: @unchecked Sendable {
    /// Every parameter value, in layout order.
    public let values: Tensor
    /// Gradients, same layout as ``values``.
    public let gradients: Tensor
    /// The parameters in layout order.
    public let parameters: [ParameterInfo]
    private let indexByName: [String: Int]

    /// Lays out `specs` in the order given (which must already be reverse
    /// forward order), all values zero.
    public init(_ specs: [(name: String, shape: [Int], decays: Bool)]) {
        var infos: [ParameterInfo] = []
        var offset = 0
        var index: [String: Int] = [:]
        for spec in specs {
            precondition(index[spec.name] == nil, "ParameterStore: duplicate parameter \(spec.name)")
            let count = spec.shape.reduce(1, *)
            index[spec.name] = infos.count
            infos.append(ParameterInfo(name: spec.name, shape: spec.shape, offset: offset,
                                       count: count, decays: spec.decays))
            offset += count
        }
        parameters = infos
        indexByName = index
        values = Tensor(zeros: [offset])
        gradients = Tensor(zeros: [offset])
    }

    /// The total number of scalar parameters.
    public var count: Int { values.count }

    /// The layout entry for `name`.
    public func info(_ name: String) -> ParameterInfo {
        guard let i = indexByName[name] else { preconditionFailure("ParameterStore: no parameter \(name)") }
        return parameters[i]
    }

    /// Whether a parameter called `name` exists.
    public func contains(_ name: String) -> Bool { indexByName[name] != nil }

    /// A view of the value of `name`, shaped as the parameter.
    public func value(_ name: String) -> Tensor {
        let p = info(name)
        return Tensor(viewing: values.storage, offset: values.offset + p.offset, shape: p.shape)
    }

    /// A view of the gradient of `name`, shaped as the parameter.
    public func gradient(_ name: String) -> Tensor {
        let p = info(name)
        return Tensor(viewing: gradients.storage, offset: gradients.offset + p.offset, shape: p.shape)
    }

    /// Sets every gradient to zero.
    public func zeroGradients() {
        gradients.fill(0)
    }
}
