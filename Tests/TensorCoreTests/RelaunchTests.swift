import Foundation
import TensorCore
import XCTest

/// End to end: this test binary, started again without `OPENBLAS_CORETYPE`,
/// relaunches itself onto the recommended kernel, and sgemm still matches
/// the reference there. Skipped where OpenBLAS already picks a good kernel.
final class RelaunchTests: XCTestCase {
    static let childVariable = "TENSORCORE_TEST_RELAUNCH_CHILD"

    func testRelaunchSelectsRecommendedKernel() throws {
        if ProcessInfo.processInfo.environment[Self.childVariable] != nil {
            return try runAsChild()
        }
        guard let recommended = OpenBLASKernel.recommendedCoreType(flags: OpenBLASKernel.cpuFlags()) else {
            throw XCTSkip("no better kernel for this CPU")
        }
        var environment = ProcessInfo.processInfo.environment
        for name in ["OPENBLAS_CORETYPE", "DDP_NO_BLAS_RELAUNCH", "DDP_BLAS_RELAUNCHED", "DDP_BLAS_THREADS",
                     "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"] {
            environment[name] = nil
        }
        environment[Self.childVariable] = "1"

        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        child.arguments = ["TensorCoreTests.RelaunchTests/testRelaunchSelectsRecommendedKernel"]
        child.environment = environment
        let output = Pipe()
        child.standardOutput = output
        child.standardError = output
        try child.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        child.waitUntilExit()

        XCTAssertEqual(child.terminationStatus, 0, text)
        // Without the forced kernel the child starts on whatever OpenBLAS
        // detects: a generic fallback must be replaced by the recommended
        // kernel, while a kernel OpenBLAS chose for this CPU (Cooperlake on
        // some AVX-512 machines) is kept as it is.
        let keptItsOwn = text.contains("relaunched=false decision=keep(reason: \"kernel ")
            && !text.contains("first=Prescott") && !text.contains("first=Core2")
        XCTAssertTrue(text.contains("child core=\(recommended)") || keptItsOwn, text)
        XCTAssertTrue(text.contains("threads=1"), text)
    }

    private func runAsChild() throws {
        let firstCore = OpenBLAS.coreName
        // Replaces this process when the kernel is a fallback; the new image
        // runs this same test again and gets `.keep` here.
        let decision = OpenBLASKernel.relaunchIfNeeded()
        OpenBLASKernel.pinToOneThreadUnlessRequested()
        print("child core=\(OpenBLAS.coreName) threads=\(OpenBLAS.threadCount) first=\(firstCore) "
              + "relaunched=\(OpenBLASKernel.wasRelaunched) decision=\(decision)")
        if OpenBLASKernel.wasRelaunched {
            XCTAssertEqual(decision, .keep(reason: "already relaunched"))
            XCTAssertEqual(ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"], "1")
        }

        // Numerics under the relaunched kernel, with transposes and accumulation.
        let m = 67, n = 45, k = 130
        let a = Tensor(shape: [k, m], values: randomValues(m * k, seed: 300))
        let b = Tensor(shape: [n, k], values: randomValues(k * n, seed: 301))
        let c = Tensor(repeating: 1, shape: [m, n])
        matmul(a, transposeA: true, b, transposeB: true, into: c, alpha: 0.5, beta: 2)
        var expected = [Double](repeating: 2, count: m * n)
        for i in 0..<m { for j in 0..<n { for p in 0..<k {
            expected[i * n + j] += 0.5 * Double(a[p * m + i]) * Double(b[j * k + p])
        } } }
        assertClose(c.array, expected, relative: 1e-4, absolute: 1e-4)
    }
}
