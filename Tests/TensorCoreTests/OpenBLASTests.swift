import TensorCore
import XCTest

final class OpenBLASTests: XCTestCase {
    func testRuntimeQueries() {
        XCTAssertFalse(OpenBLAS.coreName.isEmpty)
        XCTAssertTrue(OpenBLAS.config.contains("OpenBLAS"), OpenBLAS.config)
        XCTAssertGreaterThanOrEqual(OpenBLAS.processorCount, 1)
        let saved = OpenBLAS.threadCount
        OpenBLAS.threadCount = 1
        XCTAssertEqual(OpenBLAS.threadCount, 1)
        OpenBLAS.threadCount = saved
    }

    func testCPUFlagParsingAndRecommendation() {
        let flags = OpenBLASKernel.cpuFlags(fromCPUInfoLine: "flags\t\t: fpu sse avx2 fma avx512f avx512dq avx512bw avx512vl\n")
        XCTAssertEqual(flags, ["fpu", "sse", "avx2", "fma", "avx512f", "avx512dq", "avx512bw", "avx512vl"])
        XCTAssertEqual(OpenBLASKernel.recommendedCoreType(flags: flags), "SkylakeX")
        XCTAssertEqual(OpenBLASKernel.recommendedCoreType(flags: ["avx2", "fma", "avx512f"]), "Haswell")
        XCTAssertNil(OpenBLASKernel.recommendedCoreType(flags: ["sse3", "avx"]))
        XCTAssertNil(OpenBLASKernel.recommendedCoreType(flags: []))
        // This machine's flags are readable (Linux only project).
        XCTAssertFalse(OpenBLASKernel.cpuFlags().isEmpty)
    }

    func testGenericFallbackNames() {
        for name in ["Prescott", "Core2", "Nehalem", "Katmai", "Banias", "Atom", "Unknown"] {
            XCTAssertTrue(OpenBLASKernel.isGenericFallback(name), name)
        }
        for name in ["SkylakeX", "Haswell", "Zen", "Sandybridge", "Cooperlake"] {
            XCTAssertFalse(OpenBLASKernel.isGenericFallback(name), name)
        }
    }

    func testRelaunchDecision() {
        let avx512: Set<String> = ["avx2", "fma", "avx512f", "avx512dq", "avx512bw", "avx512vl"]
        func decide(_ core: String, _ flags: Set<String> = avx512, _ env: [String: String] = [:]) -> OpenBLASKernel.Decision {
            OpenBLASKernel.decide(coreName: core, flags: flags, environment: env, processID: 42)
        }
        XCTAssertEqual(decide("Prescott"), .relaunch(coreType: "SkylakeX"))
        XCTAssertEqual(decide("Core2", ["avx2", "fma"]), .relaunch(coreType: "Haswell"))
        guard case .keep = decide("SkylakeX") else { return XCTFail("a good kernel must be kept") }
        guard case .keep = decide("Prescott", ["sse3"]) else { return XCTFail("no better kernel") }
        guard case .keep = decide("Prescott", avx512, ["OPENBLAS_CORETYPE": "Prescott"]) else {
            return XCTFail("the user's choice must win")
        }
        guard case .keep = decide("Prescott", avx512, ["DDP_NO_BLAS_RELAUNCH": "1"]) else {
            return XCTFail("opt-out ignored")
        }
        XCTAssertEqual(decide("Prescott", avx512, ["DDP_NO_BLAS_RELAUNCH": "0"]), .relaunch(coreType: "SkylakeX"))
        // The marker of this very process stops a loop; an inherited one does not.
        guard case .keep = decide("Prescott", avx512, ["DDP_BLAS_RELAUNCHED": "42"]) else {
            return XCTFail("relaunch loop")
        }
        XCTAssertEqual(decide("Prescott", avx512, ["DDP_BLAS_RELAUNCHED": "7"]), .relaunch(coreType: "SkylakeX"))
    }

    func testSummaryNamesTheKernel() {
        let summary = OpenBLASKernel.summary()
        XCTAssertTrue(summary.contains("core=\(OpenBLAS.coreName)"), summary)
        XCTAssertTrue(summary.contains("threads="), summary)
        XCTAssertTrue(summary.contains("relaunched=no"), summary)
    }
}

final class StopwatchTests: XCTestCase {
    func testMonotonicAndLaps() {
        var watch = Stopwatch()
        let t0 = MonotonicClock.nanoseconds()
        var previous = t0
        for _ in 0..<1000 {
            let now = MonotonicClock.nanoseconds()
            XCTAssertGreaterThanOrEqual(now, previous)
            previous = now
        }
        // A lap measures the time since the last one: a 20 ms sleep reads as
        // at least 20 ms, and the next lap starts over.
        usleep(20_000)
        let lap = watch.lap()
        XCTAssertGreaterThanOrEqual(watch.start, t0, "a lap restarts the watch now")
        XCTAssertGreaterThanOrEqual(lap, 0.019)
        XCTAssertLessThan(lap, 10)
        let next = watch.lap()
        XCTAssertLessThan(next, lap, "a lap after no work is shorter than one after a 20 ms sleep")
        XCTAssertLessThan(watch.elapsedSeconds, lap, "elapsed time counts from the last lap")
    }
}
