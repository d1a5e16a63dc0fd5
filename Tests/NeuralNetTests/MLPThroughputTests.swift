import XCTest
import TensorCore
import NeuralNet
#if canImport(Glibc)
import Glibc
#endif

/// Measures a full MLP step against the sgemm calls it makes, and prints both.
///
/// Timing is reported, never asserted. It runs only with `NN_BENCHMARK=1` in
/// the environment (best in release, with `OPENBLAS_CORETYPE=SkylakeX`):
///
///     NN_BENCHMARK=1 OPENBLAS_CORETYPE=SkylakeX swift test -c release \
///         -Xswiftc -enable-testing --filter MLPThroughputTests
final class MLPThroughputTests: XCTestCase {
    private func seconds(_ body: () -> Void) -> Double {
        var start = timespec(), end = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        body()
        clock_gettime(CLOCK_MONOTONIC, &end)
        return Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) * 1e-9
    }

    func testStepVersusMatmulsAlone() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["NN_BENCHMARK"] == "1",
                          "set NN_BENCHMARK=1 to measure")
        let batch = 128, widths = [784, 1024, 1024, 10], steps = 8
        let model = MLP(.benchmark)
        model.initializeParameters(seed: 1)
        var generator = RandomGenerator(seed: 2)
        let x = Tensor(shape: [batch, 784], values: (0..<(batch * 784)).map { _ in generator.nextUniform() })
        let t = Tensor(shape: [batch], values: (0..<batch).map { _ in Float(generator.nextIndex(below: 10)) })

        // The same sgemm calls on buffers of the same shapes.
        let activations = widths.map { Tensor(zeros: [batch, $0]) }
        let weights = (0..<3).map { Tensor(zeros: [widths[$0 + 1], widths[$0]]) }
        let weightGradients = weights.map { Tensor(zeros: $0.shape) }
        let matmuls = {
            for l in 0..<3 {
                sgemm(m: batch, n: widths[l + 1], k: widths[l], a: activations[l].pointer,
                      b: weights[l].pointer, transposeB: true, c: activations[l + 1].pointer)
            }
            for l in (0..<3).reversed() {
                sgemm(m: widths[l + 1], n: widths[l], k: batch, a: activations[l + 1].pointer, transposeA: true,
                      b: activations[l].pointer, beta: 1, c: weightGradients[l].pointer)
                if l > 0 {
                    sgemm(m: batch, n: widths[l], k: widths[l + 1], a: activations[l + 1].pointer,
                          b: weights[l].pointer, c: activations[l].pointer)
                }
            }
        }
        // Zeroing gradients is the optimizer's cost, once per accumulated step, not
        // part of forward + backward (which only add into them).
        let step = {
            _ = model.forward(inputs: x, targets: t)
            model.backward(gradientsReady: nil)
        }
        for _ in 0..<3 { step(); matmuls() }  // warm up threads and caches
        // Interleaved short runs, best of each: robust to other processes on a shared machine.
        var best = (step: Double.infinity, matmuls: Double.infinity)
        for _ in 0..<15 {
            best.step = min(best.step, seconds { for _ in 0..<steps { step() } } / Double(steps))
            best.matmuls = min(best.matmuls, seconds { for _ in 0..<steps { matmuls() } } / Double(steps))
        }
        let flops = 2.0 * Double(batch) * Double(784 * 1024 + 1024 * 1024 + 1024 * 10) * 3
            - 2.0 * Double(batch * 784 * 1024)
        print(String(format: "MLP 784-1024-1024-10, batch %d: step %.2f ms, sgemm only %.2f ms (%.1f GFLOP/s), step/sgemm throughput %.1f%%",
                     batch, best.step * 1e3, best.matmuls * 1e3, flops / best.matmuls * 1e-9,
                     100 * best.matmuls / best.step))
        XCTAssertTrue(model.parameters.gradients.array.allSatisfy(\.isFinite))
    }
}
