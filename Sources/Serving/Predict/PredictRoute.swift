import Foundation
import Hummingbird
import Inference

extension PredictionService {
    /// `POST /v1/predict`: the service's own JSON shape, for both kinds of model.
    func addPredictRoute(to router: Router<BasicRequestContext>) {
        router.post("/v1/predict") { request, _ in
            await self.predict(request)
        }
    }

    /// Answers one prediction request; never throws, so every failure gets its own status and message.
    private func predict(_ request: Request) async -> Response {
        let body: Data
        switch await self.body(of: request) {
        case .success(let data): body = data
        case .failure(let problem): return json(problem.status, ["error": problem.message])
        }
        let parsed: PredictRequest
        do {
            parsed = try parser.parse(body)
        } catch let problem as RequestProblem {
            return json(.badRequest, ["error": problem.message])
        } catch {
            return json(.badRequest, ["error": "\(error)"])
        }
        do {
            switch parsed {
            case let .classify(values, rows, topK):
                let scores = try await batcher.classify(values: values, rows: rows, topK: topK)
                let predictions: [[String: Any]] = scores.map { top in
                    ["label": top[0].label,
                     "top": top.map { ["label": $0.label, "probability": finite($0.probability)] }]
                }
                return json(.ok, ["predictions": predictions])
            case let .generate(prompt, tokens, temperature, topK, seed):
                metrics.generationStarted()
                let result: GeneratedText
                do {
                    result = try await engine.run { checkpoint in
                        try checkpoint.generate(prompt: prompt, count: tokens, temperature: temperature, topK: topK, seed: seed)
                    }
                } catch {
                    metrics.generationEnded(tokens: 0)
                    throw error
                }
                metrics.generationEnded(tokens: result.tokens.count)
                return json(.ok, ["prompt": result.prompt, "text": result.text, "tokens": result.tokens])
            }
        } catch let error as InferenceError {
            return json(.badRequest, ["error": error.description])
        } catch {
            return json(.internalServerError, ["error": "inference failed: \(error)"])
        }
    }
}
