import _ProtobufWire
/// An ONNX computation graph (`GraphProto`): nodes in topological order,
/// their constant inputs (initializers), and the graph's inputs and outputs.
public struct ONNXGraph: Sendable {
    /// The graph's name, shown by model viewers.
    public var name: String
    /// The operators, each after the nodes that compute its inputs.
    public var nodes: [ONNXNode]
    /// The constants: weights, statistics, shapes.
    public var initializers: [ONNXTensor]
    /// What a caller feeds.
    public var inputs: [ONNXValueInfo]
    /// What a caller gets back.
    public var outputs: [ONNXValueInfo]

    /// A graph of `nodes` over `initializers`, from `inputs` to `outputs`.
    public init(name: String, nodes: [ONNXNode], initializers: [ONNXTensor],
                inputs: [ONNXValueInfo], outputs: [ONNXValueInfo]) {
        (self.name, self.nodes, self.initializers, self.inputs, self.outputs) = (name, nodes, initializers, inputs, outputs)
    }

    /// Encodes node (1), name (2), initializer (5), input (11), output (12).
    func encode(into writer: inout ProtobufEncoder) {
        for node in nodes { writer.appendMessage(field: 1) { node.encode(into: &$0) } }
        writer.appendString(field: 2, name)
        for tensor in initializers { writer.appendMessage(field: 5) { tensor.encode(into: &$0) } }
        for input in inputs { writer.appendMessage(field: 11) { input.encode(into: &$0) } }
        for output in outputs { writer.appendMessage(field: 12) { output.encode(into: &$0) } }
    }
}

/// An ONNX model file (`ModelProto`): one graph against one version of the
/// default operator set.
public struct ONNXModel: Sendable {
    /// The IR version the file follows: 8, the IR of ONNX 1.12, the release
    /// that brought opset 17, so any runtime that reads opset 17 reads it.
    public static let irVersion = 8
    /// The `ai.onnx` operator set the graphs are written against: 17, the
    /// first with `LayerNormalization`.
    public static let opsetVersion = 17

    /// The computation.
    public var graph: ONNXGraph
    /// What wrote the file, e.g. `swift-ddp`.
    public var producerName: String
    /// A free-text description (the checkpoint it came from).
    public var docString: String
    /// Key-value metadata (`metadata_props`), e.g. the checkpoint's step.
    public var metadata: [(key: String, value: String)]

    /// A model of `graph` with its description.
    public init(graph: ONNXGraph, producerName: String = "swift-ddp", docString: String = "",
                metadata: [(key: String, value: String)] = []) {
        (self.graph, self.producerName, self.docString, self.metadata) = (graph, producerName, docString, metadata)
    }

    /// The model in protobuf wire format: ir_version (1), producer_name (2),
    /// doc_string (6), graph (7), opset_import (8) of domain "" and version
    /// (2), metadata_props (14) of key (1) and value (2).
    public func serialized() -> [UInt8] {
        var writer = ProtobufEncoder()
        writer.appendInt(field: 1, Self.irVersion)
        writer.appendString(field: 2, producerName)
        if !docString.isEmpty { writer.appendString(field: 6, docString) }
        writer.appendMessage(field: 7) { graph.encode(into: &$0) }
        writer.appendMessage(field: 8) { opset in
            opset.appendString(field: 1, "")
            opset.appendInt(field: 2, Self.opsetVersion)
        }
        for entry in metadata {
            writer.appendMessage(field: 14) { pair in
                pair.appendString(field: 1, entry.key)
                pair.appendString(field: 2, entry.value)
            }
        }
        return writer.bytes
    }
}
