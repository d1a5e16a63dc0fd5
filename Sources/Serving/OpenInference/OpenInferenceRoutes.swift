import Foundation
import HTTPTypes
import Hummingbird
import Inference
import NIOCore

/// The Open Inference Protocol (KServe v2, REST), which Triton, KServe and
/// their clients speak: health, server and model metadata, and typed-tensor
/// inference for classifiers, batched with the other classification requests.
///
/// The model has one input, `input` (`[batch] + sampleShape`, raw values as
/// for `/v1/predict`), and two outputs: `probabilities` (FP32 `[batch, classes]`)
/// and `label` (INT64 `[batch]`, the most likely class).
extension PredictionService {
    static let inferenceInput = "input"
    static let inferenceOutputs = ["probabilities", "label"]
    static let inferenceHeaderLength = HTTPField.Name("Inference-Header-Content-Length")!

    /// The model's version in the protocol: the checkpoint's step.
    var modelVersion: String { String(engine.checkpoint.state.step) }

    func addOpenInferenceRoutes(to router: Router<BasicRequestContext>) {
        router.get("/v2") { _, _ in
            self.json(.ok, ["name": "ddp-serve", "version": "1", "extensions": ["binary_tensor_data"]])
        }
        router.get("/v2/health/live") { _, _ in self.json(.ok, ["live": true]) }
        router.get("/v2/health/ready") { _, _ in self.json(.ok, ["ready": true]) }
        for prefix in ["/v2/models/{model}", "/v2/models/{model}/versions/{version}"] {
            router.get(RouterPath(prefix)) { _, context in
                self.withModel(context) { self.json(.ok, self.modelMetadata) }
            }
            router.get(RouterPath(prefix + "/ready")) { _, context in
                self.withModel(context) { self.json(.ok, ["name": self.modelName, "ready": true]) }
            }
            router.post(RouterPath(prefix + "/infer")) { request, context in
                if let missing = self.missingModel(context) { return missing }
                return await self.infer(request)
            }
        }
    }

    private var modelMetadata: [String: Any] {
        var metadata: [String: Any] = ["name": modelName, "versions": [modelVersion], "platform": "ddp"]
        let classes = engine.checkpoint.classCount
        if classes > 0 {
            metadata["inputs"] = [["name": Self.inferenceInput, "datatype": "FP32", "shape": [-1] + engine.checkpoint.sampleShape]]
            metadata["outputs"] = [["name": "probabilities", "datatype": "FP32", "shape": [-1, classes]],
                                   ["name": "label", "datatype": "INT64", "shape": [-1]]]
        } else {
            // A language model speaks OpenAI's completions instead.
            metadata["inputs"] = [Any]()
            metadata["outputs"] = [Any]()
        }
        return metadata
    }

    private func withModel(_ context: BasicRequestContext, _ answer: () -> Response) -> Response {
        missingModel(context) ?? answer()
    }

    /// 404 in the protocol's shape when the path names another model or version.
    private func missingModel(_ context: BasicRequestContext) -> Response? {
        let name = context.parameters.get("model") ?? ""
        if name != modelName { return json(.notFound, ["error": "model '\(name)' is not served here; this service serves '\(modelName)'"]) }
        if let version = context.parameters.get("version"), version != modelVersion {
            return json(.notFound, ["error": "model '\(name)' has no version '\(version)'; it has '\(modelVersion)'"])
        }
        return nil
    }

    private func infer(_ request: Request) async -> Response {
        let classes = engine.checkpoint.classCount
        guard classes > 0 else {
            return json(.badRequest, ["error": "model '\(modelName)' is a language model: use POST /v1/completions"])
        }
        let body: Data
        switch await self.body(of: request) {
        case .success(let data): body = data
        case .failure(let problem): return json(problem.status, ["error": problem.message])
        }
        let parser = InferRequestParser(inputName: Self.inferenceInput, sampleShape: engine.checkpoint.sampleShape,
                                        outputNames: Self.inferenceOutputs, maxBatch: options.maxBatch,
                                        largestValue: PredictRequestParser.largestValue)
        let parsed: InferRequest
        do {
            parsed = try parser.parse(body, headerLength: request.headers[Self.inferenceHeaderLength])
        } catch let problem as RequestProblem {
            return json(.badRequest, ["error": problem.message])
        } catch {
            return json(.badRequest, ["error": "\(error)"])
        }
        let scores: [[ClassScore]]
        do {
            scores = try await batcher.classify(values: parsed.values, rows: parsed.rows, topK: classes)
        } catch {
            return json(.internalServerError, ["error": "inference failed: \(error)"])
        }
        var probabilities = [Float](repeating: 0, count: parsed.rows * classes)
        for (row, top) in scores.enumerated() {
            for score in top { probabilities[row * classes + score.label] = Float(score.probability) }
        }
        let tensors = [
            "probabilities": OutputTensor.float32("probabilities", shape: [parsed.rows, classes], probabilities),
            "label": OutputTensor.int64("label", shape: [parsed.rows], scores.map { $0[0].label }),
        ]
        return inferResponse(parsed, tensors: tensors)
    }

    /// The answer, with the binary outputs after the JSON when any are asked for.
    private func inferResponse(_ request: InferRequest, tensors: [String: OutputTensor]) -> Response {
        var outputs: [[String: Any]] = []
        var binary = Data()
        for (name, asBinary) in request.outputs {
            guard let tensor = tensors[name] else { continue }
            var output: [String: Any] = ["name": tensor.name, "datatype": tensor.datatype, "shape": tensor.shape]
            if asBinary {
                output["parameters"] = ["binary_data_size": tensor.bytes.count]
                binary.append(tensor.bytes)
            } else {
                output["data"] = tensor.values
            }
            outputs.append(output)
        }
        var object: [String: Any] = ["model_name": modelName, "model_version": modelVersion, "outputs": outputs]
        if let id = request.id { object["id"] = id }
        guard !binary.isEmpty else { return json(.ok, object) }
        let header = Data(Self.jsonText(object).utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/octet-stream"
        headers[Self.inferenceHeaderLength] = String(header.count)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: header + binary)))
    }
}
