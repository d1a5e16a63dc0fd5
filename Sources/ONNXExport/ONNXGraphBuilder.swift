/// Builds an ONNX graph one node at a time: every node gets a fresh output
/// name derived from a hint (`blocks.0.ln1` → `blocks.0.ln1`, `blocks.0.ln1_1`, ...),
/// so the model files stay readable in a viewer and names never collide.
///
/// Nodes are appended in the order they are built, which is topological
/// because each takes only values built before it.
final class ONNXGraphBuilder {
    private(set) var nodes: [ONNXNode] = []
    private(set) var initializers: [ONNXTensor] = []
    private var taken: Set<String> = []
    private var scalars: [UInt32: String] = [:]

    /// Reserves a graph input's name, so no node output reuses it.
    func reserve(_ name: String) {
        precondition(taken.insert(name).inserted, "ONNXGraphBuilder: \(name) is already taken")
    }

    /// `hint` itself if unused, else `hint_1`, `hint_2`, ...
    func uniqueName(_ hint: String) -> String {
        var name = hint, n = 0
        while taken.contains(name) {
            n += 1
            name = "\(hint)_\(n)"
        }
        taken.insert(name)
        return name
    }

    /// Adds `tensor` as an initializer under a unique version of its name; returns that name.
    @discardableResult
    func initializer(_ tensor: ONNXTensor) -> String {
        var tensor = tensor
        tensor.name = uniqueName(tensor.name)
        initializers.append(tensor)
        return tensor.name
    }

    /// A Float32 initializer.
    func floats(_ name: String, _ values: [Float], shape: [Int]) -> String {
        initializer(ONNXTensor(name: name, shape: shape, floats: values))
    }

    /// An Int64 initializer, for shapes, axes and indices.
    func int64s(_ name: String, _ values: [Int]) -> String {
        initializer(ONNXTensor(name: name, shape: [values.count], int64s: values))
    }

    /// A Float32 scalar initializer, shared by every use of the same value.
    func scalar(_ value: Float) -> String {
        if let name = scalars[value.bitPattern] { return name }
        let name = initializer(ONNXTensor(name: "const_\(value)", shape: [], floats: [value]))
        scalars[value.bitPattern] = name
        return name
    }

    /// Appends one node of `op` and returns its output's name: `output` when
    /// given (a graph output), else a fresh name from `hint`.
    @discardableResult
    func apply(_ op: String, _ inputs: [String], _ attributes: [ONNXAttribute] = [],
               hint: String, output: String? = nil) -> String {
        let name = output.map { reserve($0); return $0 } ?? uniqueName(hint)
        nodes.append(ONNXNode(op, inputs: inputs, outputs: [name], name: name, attributes: attributes))
        return name
    }

    /// The finished graph.
    func graph(name: String, inputs: [ONNXValueInfo], outputs: [ONNXValueInfo]) -> ONNXGraph {
        ONNXGraph(name: name, nodes: nodes, initializers: initializers, inputs: inputs, outputs: outputs)
    }

    // MARK: - Compound operations

    /// `x Wᵀ + b` for a 2-D `x` and a weight `[outputs, inputs]`, as the project
    /// stores Linear weights: one `Gemm` with `transB`, no transposed copy.
    func linear(_ x: String, weight: String, bias: String?, hint: String) -> String {
        apply("Gemm", [x, weight] + (bias.map { [$0] } ?? []), [.int("transB", 1)], hint: hint)
    }

    /// `x Wᵀ + b` for an `x` of any rank ≥ 2 (the GPT's `[B, T, C]`):
    /// `MatMul` by the transposed weight, then the bias. The transpose is of
    /// a constant, which runtimes fold when they load the model.
    func batchedLinear(_ x: String, weight: String, bias: String?, hint: String) -> String {
        let transposed = apply("Transpose", [weight], [.ints("perm", [1, 0])], hint: weight + ".T")
        let product = apply("MatMul", [x, transposed], hint: hint + ".matmul")
        guard let bias else { return product }
        return apply("Add", [product, bias], hint: hint)
    }

    /// GELU in the tanh approximation, `x/2 · (1 + tanh(√(2/π) (x + 0.044715 x³)))`,
    /// written out because the `Gelu` operator arrived only in opset 20; the
    /// constants are the project's own (`Kernels.geluScale`, `geluCubic`).
    func gelu(_ x: String, hint: String) -> String {
        let cube = apply("Mul", [apply("Mul", [x, x], hint: hint + ".x2"), x], hint: hint + ".x3")
        let inner = apply("Add", [x, apply("Mul", [cube, scalar(0.044_715)], hint: hint + ".cubic")], hint: hint + ".inner")
        let tanh = apply("Tanh", [apply("Mul", [inner, scalar(0.797_884_56)], hint: hint + ".u")], hint: hint + ".tanh")
        let half = apply("Mul", [x, scalar(0.5)], hint: hint + ".half")
        return apply("Mul", [half, apply("Add", [tanh, scalar(1)], hint: hint + ".onePlus")], hint: hint)
    }

    /// Layer normalization over the last axis with the project's epsilon.
    func layerNorm(_ x: String, weight: String, bias: String, epsilon: Float, hint: String) -> String {
        apply("LayerNormalization", [x, weight, bias], [.int("axis", -1), .float("epsilon", epsilon)], hint: hint)
    }
}
