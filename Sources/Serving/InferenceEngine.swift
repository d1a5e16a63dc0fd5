import Dispatch
import Inference

/// The one place the model runs: a serial queue, because the model reuses
/// its workspaces and is not safe to call from two threads at once. Work
/// runs on that queue rather than on the concurrency pool, so a long
/// forward pass never holds up the tasks that accept and answer requests.
final class InferenceEngine: @unchecked Sendable {
    let checkpoint: InferenceSession
    private let queue = DispatchQueue(label: "ddp.serve.inference", qos: .userInitiated)

    init(_ checkpoint: InferenceSession) {
        self.checkpoint = checkpoint
    }

    /// Runs `body` on the inference queue and returns its result.
    func run<T: Sendable>(_ body: @escaping @Sendable (InferenceSession) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try body(self.checkpoint) })
            }
        }
    }
}
