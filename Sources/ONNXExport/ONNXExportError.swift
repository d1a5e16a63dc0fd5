/// Why a checkpoint could not be exported to ONNX. Every case names the
/// checkpoint and what is not supported.
public enum ONNXExportError: Error, CustomStringConvertible, Equatable {
    /// A stage of the model has no ONNX form in this exporter.
    case unsupportedLayer(checkpoint: String, layer: String, kind: String)
    /// The model, or how its inputs are prepared, cannot be exported; `reason` says why.
    case unsupportedModel(checkpoint: String, reason: String)
    /// The weights exceed the 2 GiB a protobuf message can hold; models that
    /// large need ONNX's external data files, which this exporter does not write.
    case tooLarge(checkpoint: String, bytes: Int)

    public var description: String {
        switch self {
        case let .unsupportedLayer(checkpoint, layer, kind):
            return "\(checkpoint): layer \(layer) (\(kind)) has no ONNX export"
        case let .unsupportedModel(checkpoint, reason):
            return "\(checkpoint): cannot export to ONNX: \(reason)"
        case let .tooLarge(checkpoint, bytes):
            return "\(checkpoint): the weights take \(bytes) bytes, more than the 2 GiB of one ONNX file "
                + "(external data files are not supported)"
        }
    }
}
