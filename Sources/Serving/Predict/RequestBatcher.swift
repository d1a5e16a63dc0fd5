import Inference

/// Groups classification requests that arrive close together into one
/// forward pass: the first request of a batch waits `window` for others to
/// join, then up to `maxBatch` samples go through the model together.
/// Requests arriving while a batch runs form the next one without further
/// waiting (they have waited already).
///
/// A batch costs about as much as one sample until the matrices fill the
/// cores, so under concurrent load this trades a small fixed delay for far
/// more throughput.
actor RequestBatcher {
    private struct Pending {
        let values: [Float]
        let rows: Int
        let topK: Int
        let continuation: CheckedContinuation<[[ClassScore]], Error>
    }

    private let engine: InferenceEngine
    private let metrics: ServiceMetrics
    private let maxBatch: Int
    private let window: Duration
    private var queue: [Pending] = []
    private var draining = false

    /// - Parameters:
    ///   - maxBatch: Most samples per forward pass; a single request may not exceed it.
    ///   - window: How long the first request of a batch waits for company.
    init(engine: InferenceEngine, metrics: ServiceMetrics, maxBatch: Int, window: Duration) {
        precondition(maxBatch >= 1, "RequestBatcher: maxBatch must be at least 1, got \(maxBatch)")
        (self.engine, self.metrics, self.maxBatch, self.window) = (engine, metrics, maxBatch, window)
    }

    /// Classifies `rows` raw samples (concatenated in `values`) as part of the next batch.
    func classify(values: [Float], rows: Int, topK: Int) async throws -> [[ClassScore]] {
        precondition(rows >= 1 && rows <= maxBatch, "RequestBatcher: \(rows) samples in one request, at most \(maxBatch)")
        return try await withCheckedThrowingContinuation { continuation in
            queue.append(Pending(values: values, rows: rows, topK: topK, continuation: continuation))
            if !draining {
                draining = true
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        if window > .zero { try? await Task.sleep(for: window) }
        while !queue.isEmpty {
            var taken = 0, rows = 0
            while taken < queue.count && rows + queue[taken].rows <= maxBatch {
                rows += queue[taken].rows
                taken += 1
            }
            let batch = Array(queue.prefix(taken))
            queue.removeFirst(taken)
            var values: [Float] = []
            values.reserveCapacity(batch.reduce(0) { $0 + $1.values.count })
            for request in batch { values += request.values }
            let topK = batch.map(\.topK).max() ?? 1
            let (inputs, total) = (values, rows)
            do {
                let scores = try await engine.run { checkpoint in
                    checkpoint.classify(inputs, rows: total, topK: topK)
                }
                metrics.recordBatch(size: total)
                var offset = 0
                for request in batch {
                    let mine = scores[offset..<(offset + request.rows)].map { Array($0.prefix(request.topK)) }
                    request.continuation.resume(returning: mine)
                    offset += request.rows
                }
            } catch {
                for request in batch { request.continuation.resume(throwing: error) }
            }
        }
        draining = false
    }
}
