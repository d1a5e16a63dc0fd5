import Foundation
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
        if let storage = Self.gradientAllocator?(offset) {
            precondition(storage.count == offset, "ParameterStore: gradient allocator gave \(storage.count) elements for \(offset)")
            gradients = Tensor(viewing: storage, shape: [offset])
        } else {
            gradients = Tensor(zeros: [offset])
        }
    }

    /// Supplies the zero-filled gradient buffer of `count` elements for a new
    /// store, or `nil` for ordinary memory.
    public typealias GradientAllocator = (_ count: Int) -> TensorStorage?

    /// Runs `body` with `allocator` choosing the gradient memory of every
    /// store the calling thread creates meanwhile.
    ///
    /// Models build their store inside their initializer, and layers keep
    /// views of it, so the gradient memory must be chosen before the model
    /// exists. Data parallelism uses this while building the model to put
    /// gradients where the other ranks of the node can read them:
    ///
    ///     let model = ParameterStore.withGradientAllocator(allocator) { MLP(configuration) }
    public static func withGradientAllocator<Result>(_ allocator: @escaping GradientAllocator,
                                                     _ body: () throws -> Result) rethrows -> Result {
        let key = gradientAllocatorKey
        let previous = Thread.current.threadDictionary[key]
        Thread.current.threadDictionary[key] = AllocatorBox(allocate: allocator)
        defer { Thread.current.threadDictionary[key] = previous }
        return try body()
    }

    /// The allocator bound by ``withGradientAllocator(_:_:)`` on this thread.
    static var gradientAllocator: GradientAllocator? {
        (Thread.current.threadDictionary[gradientAllocatorKey] as? AllocatorBox)?.allocate
    }

    private static let gradientAllocatorKey = "swift-ddp.ParameterStore.gradientAllocator"

    private final class AllocatorBox {
        let allocate: GradientAllocator
        init(allocate: @escaping GradientAllocator) { self.allocate = allocate }
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
