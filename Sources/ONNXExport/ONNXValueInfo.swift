import _ProtobufWire
/// One dimension of a graph input's or output's shape: a fixed size, or a
/// name (`dim_param`) that leaves it free, like the batch size.
public enum ONNXDimension: Sendable, Equatable {
    case fixed(Int)
    case named(String)
}

/// A graph input or output (`ValueInfoProto`): its name and tensor type.
public struct ONNXValueInfo: Sendable {
    /// The value's name, what a runtime's caller passes or asks for.
    public var name: String
    /// The tensor's element type.
    public var elementType: ONNXElementType
    /// The tensor's dimensions.
    public var shape: [ONNXDimension]

    /// A tensor value `name` of `elementType` and `shape`.
    public init(name: String, elementType: ONNXElementType, shape: [ONNXDimension]) {
        (self.name, self.elementType, self.shape) = (name, elementType, shape)
    }

    /// The value as a person reads it: `input_ids int64 [batch, sequence]`.
    public var summary: String {
        let dims = shape.map { dimension -> String in
            switch dimension {
            case .fixed(let size): return String(size)
            case .named(let name): return name
            }
        }
        return "\(name) \(elementType.name) [\(dims.joined(separator: ", "))]"
    }

    /// Encodes name (1) and type (2): a `TypeProto` whose tensor_type (1)
    /// holds elem_type (1) and a `TensorShapeProto` (2) of dims (1), each
    /// a dim_value (1) or a dim_param (2).
    func encode(into writer: inout ProtobufEncoder) {
        writer.appendString(field: 1, name)
        writer.appendMessage(field: 2) { type in
            type.appendMessage(field: 1) { tensor in
                tensor.appendInt(field: 1, elementType.rawValue)
                tensor.appendMessage(field: 2) { shapeProto in
                    for dimension in shape {
                        shapeProto.appendMessage(field: 1) { dim in
                            switch dimension {
                            case .fixed(let size): dim.appendInt(field: 1, size)
                            case .named(let name): dim.appendString(field: 2, name)
                            }
                        }
                    }
                }
            }
        }
    }
}
