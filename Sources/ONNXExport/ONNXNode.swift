import _ProtobufWire
/// An attribute of an ONNX node (`AttributeProto`), of the kinds the
/// exported graphs use.
public struct ONNXAttribute: Sendable {
    /// The value and its `AttributeProto.AttributeType`.
    public enum Value: Sendable {
        case float(Float)
        case int(Int)
        case ints([Int])
    }

    /// The attribute's name in the operator's definition, e.g. `transB`.
    public var name: String
    /// Its value.
    public var value: Value

    /// The attribute `name` with `value`.
    public init(_ name: String, _ value: Value) {
        self.name = name
        self.value = value
    }

    /// An `INT` attribute.
    public static func int(_ name: String, _ value: Int) -> ONNXAttribute { ONNXAttribute(name, .int(value)) }
    /// A `FLOAT` attribute.
    public static func float(_ name: String, _ value: Float) -> ONNXAttribute { ONNXAttribute(name, .float(value)) }
    /// An `INTS` attribute.
    public static func ints(_ name: String, _ values: [Int]) -> ONNXAttribute { ONNXAttribute(name, .ints(values)) }

    /// Encodes name (1), the value (f 2, i 3, ints 8) and type (20):
    /// FLOAT 1, INT 2, INTS 7.
    func encode(into writer: inout ProtobufEncoder) {
        writer.appendString(field: 1, name)
        switch value {
        case .float(let f):
            writer.appendFloat(field: 2, f)
            writer.appendInt(field: 20, 1)
        case .int(let i):
            writer.appendInt(field: 3, i)
            writer.appendInt(field: 20, 2)
        case .ints(let values):
            for i in values { writer.appendInt(field: 8, i) }
            writer.appendInt(field: 20, 7)
        }
    }
}

/// One operator application in an ONNX graph (`NodeProto`), in the default
/// (`ai.onnx`) domain.
public struct ONNXNode: Sendable {
    /// The operator, e.g. `Gemm`, `LayerNormalization`.
    public var opType: String
    /// Input value names; an empty name skips an optional input.
    public var inputs: [String]
    /// Output value names.
    public var outputs: [String]
    /// A name unique in the graph, for diagnostics.
    public var name: String
    /// The operator's attributes, e.g. `axis`.
    public var attributes: [ONNXAttribute]

    /// A node applying `opType` to `inputs`.
    public init(_ opType: String, inputs: [String], outputs: [String], name: String, attributes: [ONNXAttribute] = []) {
        (self.opType, self.inputs, self.outputs, self.name, self.attributes) = (opType, inputs, outputs, name, attributes)
    }

    /// Encodes input (1), output (2), name (3), op_type (4), attribute (5).
    func encode(into writer: inout ProtobufEncoder) {
        for input in inputs { writer.appendString(field: 1, input) }
        for output in outputs { writer.appendString(field: 2, output) }
        writer.appendString(field: 3, name)
        writer.appendString(field: 4, opType)
        for attribute in attributes { writer.appendMessage(field: 5) { attribute.encode(into: &$0) } }
    }
}
