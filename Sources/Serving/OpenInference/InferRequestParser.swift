import Foundation

/// A checked `POST /v2/models/{name}/infer` request.
struct InferRequest {
    /// The client's request id, echoed in the answer.
    var id: String?
    /// `rows` samples of raw values, as Float32.
    var values: [Float]
    var rows: Int
    /// The outputs to answer with, in order, each with whether it goes as binary data.
    var outputs: [(name: String, binary: Bool)]
}

/// Reads Open Inference Protocol infer requests: a JSON object, optionally
/// followed by binary tensor data whose JSON length the
/// `Inference-Header-Content-Length` header gives (the binary tensor data
/// extension, which the official clients use by default).
struct InferRequestParser {
    /// The model's one input: its name and the shape of one sample.
    let inputName: String
    let sampleShape: [Int]
    /// The outputs the model has.
    let outputNames: [String]
    /// Samples per request, at most.
    let maxBatch: Int
    /// Largest magnitude accepted for an input value, as for `/v1/predict`.
    let largestValue: Double

    var sampleSize: Int { sampleShape.reduce(1, *) }

    /// - Parameters:
    ///   - body: The whole request body.
    ///   - headerLength: The `Inference-Header-Content-Length` header, when sent.
    func parse(_ body: Data, headerLength: String?) throws -> InferRequest {
        var jsonLength = body.count
        if let headerLength {
            guard let length = Int(headerLength), length >= 0, length <= body.count else {
                throw RequestProblem("Inference-Header-Content-Length \(headerLength) is not a length within the \(body.count)-byte body")
            }
            jsonLength = length
        }
        let fields = try JSONFields(body: body.prefix(jsonLength))
        var binary = body.dropFirst(jsonLength)
        try fields.rejectUnknownKeys(allowed: ["id", "parameters", "inputs", "outputs", "model_name", "model_version"])
        let id = try fields.string("id")
        let parameters = try self.parameters(fields["parameters"], at: "parameters")
        guard let inputs = fields["inputs"] as? [Any] else { throw RequestProblem("\"inputs\" must be a list of tensors") }
        guard inputs.count == 1, let input = inputs[0] as? [String: Any] else {
            throw RequestProblem("\"inputs\" must hold one tensor, \"\(inputName)\"; got \(inputs.count)")
        }
        let (values, rows) = try tensor(JSONFields(input), binary: &binary)
        guard binary.isEmpty else {
            throw RequestProblem("\(binary.count) bytes of binary data follow the tensors that the JSON describes")
        }
        let allBinary = try JSONFields(parameters).bool("binary_data_output") ?? false
        var outputs: [(String, Bool)] = outputNames.map { ($0, allBinary) }
        if let requested = fields["outputs"] {
            guard let list = requested as? [Any] else { throw RequestProblem("\"outputs\" must be a list") }
            outputs = try list.enumerated().map { i, any in
                guard let output = any as? [String: Any], let name = output["name"] as? String else {
                    throw RequestProblem("outputs[\(i)] must be an object with a \"name\"")
                }
                guard outputNames.contains(name) else {
                    throw RequestProblem("outputs[\(i)]: the model has no output \"\(name)\"; it has "
                                         + outputNames.map { "\"\($0)\"" }.joined(separator: ", "))
                }
                let own = try self.parameters(output["parameters"], at: "outputs[\(i)].parameters")
                return (name, try JSONFields(own).bool("binary_data") ?? allBinary)
            }
        }
        return InferRequest(id: id, values: values, rows: rows, outputs: outputs)
    }

    private func parameters(_ any: Any?, at path: String) throws -> [String: Any] {
        guard let any, !(any is NSNull) else { return [:] }
        guard let object = any as? [String: Any] else { throw RequestProblem("\"\(path)\" must be an object") }
        return object
    }

    /// The one input tensor: name, datatype and shape checked against the model,
    /// data from JSON or from the binary tail.
    private func tensor(_ input: JSONFields, binary: inout Data) throws -> ([Float], Int) {
        guard let name = try input.string("name") else { throw RequestProblem("inputs[0] needs a \"name\"") }
        guard name == inputName else { throw RequestProblem("the model has no input \"\(name)\"; its input is \"\(inputName)\"") }
        guard let typeName = try input.string("datatype") else { throw RequestProblem("input \"\(name)\" needs a \"datatype\"") }
        guard let datatype = TensorDatatype(rawValue: typeName) else {
            throw RequestProblem("input \"\(name)\": datatype \(typeName) is not accepted; use FP32 (or "
                                 + TensorDatatype.allCases.map(\.rawValue).joined(separator: ", ") + ")")
        }
        guard let shapeList = input["shape"] as? [Any],
              let shape = shapeList.map({ JSONFields.number($0) }) as? [Double], shape.allSatisfy({ $0 == $0.rounded() && $0 >= 0 && $0 < 1e9 }) else {
            throw RequestProblem("input \"\(name)\": \"shape\" must be a list of non-negative integers")
        }
        let dims = shape.map { Int($0) }
        let expected = "[batch, " + sampleShape.map(String.init).joined(separator: ", ") + "]"
        guard dims.count == sampleShape.count + 1, Array(dims.dropFirst()) == sampleShape else {
            throw RequestProblem("input \"\(name)\": shape \(dims) does not match the model's \(expected)")
        }
        let rows = dims[0]
        guard rows >= 1 && rows <= maxBatch else {
            throw RequestProblem("input \"\(name)\": batch of \(rows) samples; between 1 and \(maxBatch) per request")
        }
        let count = rows * sampleSize
        let parameters = try self.parameters(input["parameters"], at: "inputs[0].parameters")
        var raw: [Double]
        if let size = try JSONFields(parameters).integer("binary_data_size", in: 0...Int.max) {
            guard input["data"] == nil else { throw RequestProblem("input \"\(name)\" has both \"data\" and binary_data_size") }
            guard size == count * datatype.size else {
                throw RequestProblem("input \"\(name)\": binary_data_size \(size) is not \(count) \(typeName) values (\(count * datatype.size) bytes)")
            }
            guard binary.count >= size else {
                throw RequestProblem("input \"\(name)\": binary_data_size \(size) but only \(binary.count) bytes follow the JSON")
            }
            let chunk = Data(binary.prefix(size))
            binary = binary.dropFirst(size)
            raw = chunk.withUnsafeBytes { bytes in (0..<count).map { datatype.value(in: bytes, at: $0) } }
        } else {
            guard let data = input["data"] else { throw RequestProblem("input \"\(name)\" needs \"data\" (or binary data)") }
            raw = []
            raw.reserveCapacity(count)
            try flatten(data, into: &raw, limit: count, name: name)
            guard raw.count == count else {
                throw RequestProblem("input \"\(name)\": \"data\" holds \(raw.count) values; shape \(dims) needs \(count)")
            }
            if let bad = raw.firstIndex(where: { !datatype.admits($0) }) {
                throw RequestProblem("input \"\(name)\": data[\(bad)] = \(raw[bad]) is not a \(typeName) value")
            }
        }
        if let bad = raw.firstIndex(where: { !$0.isFinite || abs($0) > largestValue }) {
            throw RequestProblem("input \"\(name)\": value \(bad) = \(raw[bad]) is outside ±\(Int(largestValue))")
        }
        return (raw.map { Float($0) }, rows)
    }

    /// Row-major values of `data`, flat or nested as the protocol allows.
    private func flatten(_ data: Any, into values: inout [Double], limit: Int, name: String) throws {
        if let x = JSONFields.number(data) {
            guard values.count < limit else { return values.append(x) }
            values.append(x)
        } else if let list = data as? [Any] {
            for element in list {
                try flatten(element, into: &values, limit: limit, name: name)
                if values.count > limit { return }
            }
        } else {
            throw RequestProblem("input \"\(name)\": \"data\" must hold numbers only")
        }
    }
}
