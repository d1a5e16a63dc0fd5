// Choosing OpenBLAS's CPU kernel. OpenBLAS 0.3.21 built with DYNAMIC_ARCH
// does not recognize some AVX-512 Xeons and falls back to the generic
// "Prescott" SSE3 kernel, about 5x slower for sgemm. It honours
// OPENBLAS_CORETYPE, but reads it only once, in a library constructor that
// runs before main. So the only fix from inside the program is to set the
// variable and re-execute ourselves, before anything (MPI_Init, threads)
// depends on the process image.

#if canImport(Glibc)
import Glibc
#endif

/// Detection of a misdetected OpenBLAS kernel, and the re-exec that fixes it.
public enum OpenBLASKernel {
    /// OpenBLAS's variable forcing a kernel by name.
    public static let coreTypeVariable = "OPENBLAS_CORETYPE"
    /// Set to anything but `0` or empty to disable the relaunch.
    public static let optOutVariable = "DDP_NO_BLAS_RELAUNCH"
    /// Set by the relaunch to the process id; `execv` keeps the pid, so a
    /// matching value means this image is the relaunched one, and it stops a
    /// second relaunch even if OpenBLAS ignored the forced kernel.
    public static let relaunchMarkerVariable = "DDP_BLAS_RELAUNCHED"
    /// Threads per process requested by the user for OpenBLAS.
    public static let threadsVariable = "DDP_BLAS_THREADS"

    /// What ``relaunchIfNeeded(arguments:beforeExec:)`` decided.
    public enum Decision: Equatable, Sendable {
        /// Re-execute with `OPENBLAS_CORETYPE` set to this kernel.
        case relaunch(coreType: String)
        /// Keep the current process, for the reason given.
        case keep(reason: String)
    }

    /// The CPU feature flags of the first processor in `/proc/cpuinfo`;
    /// empty if it cannot be read.
    public static func cpuFlags() -> Set<String> {
        guard let file = fopen("/proc/cpuinfo", "r") else { return [] }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>? = nil
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0 {
            guard let line else { break }
            let text = String(cString: line)
            if text.hasPrefix("flags") { return cpuFlags(fromCPUInfoLine: text) }
        }
        return []
    }

    /// The flags in one `flags : a b c` line of `/proc/cpuinfo`.
    public static func cpuFlags(fromCPUInfoLine line: String) -> Set<String> {
        guard let colon = line.firstIndex(of: ":") else { return [] }
        let words = line[line.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
        return Set(words.map(String.init))
    }

    /// The best kernel for a CPU with these flags: `"SkylakeX"` with the
    /// AVX-512 F/DQ/BW/VL subsets, `"Haswell"` with AVX2 and FMA, else nil.
    public static func recommendedCoreType(flags: Set<String>) -> String? {
        if flags.isSuperset(of: ["avx512f", "avx512dq", "avx512bw", "avx512vl"]) { return "SkylakeX" }
        if flags.isSuperset(of: ["avx2", "fma"]) { return "Haswell" }
        return nil
    }

    /// Whether `coreName` is one of OpenBLAS's generic or pre-AVX fallback
    /// kernels, which it picks for CPUs it does not recognize.
    public static func isGenericFallback(_ coreName: String) -> Bool {
        let generic: Set<String> = [
            "unknown", "prescott", "core2", "penryn", "dunnington", "nehalem", "katmai",
            "coppermine", "northwood", "banias", "atom", "athlon", "opteron", "opteron(sse3)",
        ]
        return generic.contains(coreName.lowercased())
    }

    /// The relaunch decision for a process running `coreName` on a CPU with
    /// `flags` in `environment`; pure, so it can be tested.
    ///
    /// - Parameters:
    ///   - coreName: OpenBLAS's current kernel (``OpenBLAS/coreName``).
    ///   - flags: CPU flags (``cpuFlags()``).
    ///   - environment: The process environment.
    ///   - processID: This process's id, compared with the relaunch marker.
    public static func decide(
        coreName: String, flags: Set<String>, environment: [String: String], processID: Int32
    ) -> Decision {
        if let optOut = environment[optOutVariable], !optOut.isEmpty, optOut != "0" {
            return .keep(reason: "\(optOutVariable) is set")
        }
        if environment[relaunchMarkerVariable] == String(processID) {
            return .keep(reason: "already relaunched")
        }
        if let forced = environment[coreTypeVariable] {
            return .keep(reason: "\(coreTypeVariable)=\(forced) set by the user")
        }
        guard isGenericFallback(coreName) else {
            return .keep(reason: "kernel \(coreName) is not a generic fallback")
        }
        guard let better = recommendedCoreType(flags: flags) else {
            return .keep(reason: "no better kernel for this CPU")
        }
        return .relaunch(coreType: better)
    }

    /// Re-executes this program with a better OpenBLAS kernel if OpenBLAS
    /// fell back to a generic one; returns only when no relaunch happens.
    ///
    /// Call it first thing in `main`, before MPI initialization or any
    /// thread is started: the process image is replaced (same pid, same
    /// arguments) through `execv("/proc/self/exe")`. The relaunched process
    /// also gets `OPENBLAS_NUM_THREADS` and `OMP_NUM_THREADS` (1, or
    /// `DDP_BLAS_THREADS`) unless they are already set.
    ///
    /// - Parameters:
    ///   - arguments: The argv to pass on; by default this process's.
    ///   - beforeExec: Runs just before the exec (to carry state across it).
    /// - Returns: Why the process was kept (a failed `execv` included).
    @discardableResult
    public static func relaunchIfNeeded(arguments: [String] = CommandLine.arguments,
                                        beforeExec: () -> Void = {}) -> Decision {
        let decision = decide(coreName: OpenBLAS.coreName, flags: cpuFlags(),
                              environment: environment(), processID: getpid())
        guard case .relaunch(let coreType) = decision else { return decision }

        let threads = requestedThreads().map(String.init) ?? "1"
        setenv(coreTypeVariable, coreType, 1)
        setenv(relaunchMarkerVariable, String(getpid()), 1)
        setenv("OPENBLAS_NUM_THREADS", threads, 0)
        setenv("OMP_NUM_THREADS", threads, 0)
        // Buffered output would be lost when the image is replaced.
        fflush(nil)
        beforeExec()

        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        argv.append(nil)
        execv("/proc/self/exe", &argv)

        // Only reached if execv failed: carry on with the slow kernel, and
        // do not claim a relaunch that did not happen.
        let error = errno
        for pointer in argv { free(pointer) }
        unsetenv(coreTypeVariable)
        unsetenv(relaunchMarkerVariable)
        return .keep(reason: "execv failed with errno \(error)")
    }

    /// Whether this process is the image started by ``relaunchIfNeeded(arguments:beforeExec:)``.
    public static var wasRelaunched: Bool {
        guard let marker = getenv(relaunchMarkerVariable) else { return false }
        return String(cString: marker) == String(getpid())
    }

    /// Sets OpenBLAS to one thread per process unless `DDP_BLAS_THREADS`
    /// asks for another count (which is applied) or `OPENBLAS_NUM_THREADS`
    /// is set (which is left alone).
    ///
    /// - Returns: The thread count now in effect.
    @discardableResult
    public static func pinToOneThreadUnlessRequested() -> Int {
        if let requested = requestedThreads() {
            OpenBLAS.threadCount = requested
        } else if getenv("OPENBLAS_NUM_THREADS") == nil {
            OpenBLAS.threadCount = 1
        }
        return OpenBLAS.threadCount
    }

    /// A one-line description of the kernel in use, for logs, e.g.
    /// `OpenBLAS core=SkylakeX threads=1 relaunched=yes (cpu suggests SkylakeX)`.
    public static func summary() -> String {
        let suggested = recommendedCoreType(flags: cpuFlags()) ?? "none"
        let forced = getenv(coreTypeVariable).map { String(cString: $0) }
        return "OpenBLAS core=\(OpenBLAS.coreName) threads=\(OpenBLAS.threadCount)"
            + " relaunched=\(wasRelaunched ? "yes" : "no")"
            + (forced.map { " \(coreTypeVariable)=\($0)" } ?? "")
            + " (cpu suggests \(suggested))"
    }

    /// `DDP_BLAS_THREADS` as a positive count, or nil if unset or invalid.
    static func requestedThreads() -> Int? {
        guard let text = getenv(threadsVariable), let value = Int(String(cString: text)), value >= 1 else {
            return nil
        }
        return value
    }

    /// The process environment as a dictionary.
    static func environment() -> [String: String] {
        var result: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            entry += 1
        }
        return result
    }
}
