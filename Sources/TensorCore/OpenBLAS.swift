import CBLAS

/// The OpenBLAS runtime: which kernel it picked and how many threads it uses.
public enum OpenBLAS {
    /// The name of the CPU kernel in use, e.g. `"SkylakeX"` or `"Prescott"`.
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name).trimmingSpaces()
    }

    /// The build configuration string (version, DYNAMIC_ARCH, threading model).
    public static var config: String {
        guard let text = openblas_get_config() else { return "unknown" }
        return String(cString: text).trimmingSpaces()
    }

    /// The number of threads OpenBLAS uses for one call.
    ///
    /// In data-parallel training each rank is its own process on its own
    /// core, so more than one BLAS thread per rank oversubscribes the CPU.
    public static var threadCount: Int {
        get { Int(openblas_get_num_threads()) }
        set {
            precondition(newValue >= 1, "OpenBLAS.threadCount: must be at least 1, got \(newValue)")
            openblas_set_num_threads(Int32(newValue))
        }
    }

    /// The number of processors OpenBLAS detected.
    public static var processorCount: Int { Int(openblas_get_num_procs()) }
}

extension String {
    /// OpenBLAS pads its strings with trailing spaces.
    fileprivate func trimmingSpaces() -> String {
        var s = Substring(self)
        while let last = s.last, last == " " || last == "\n" { s.removeLast() }
        while let first = s.first, first == " " { s.removeFirst() }
        return String(s)
    }
}
