import CMPI

/// How much threading the program asks of MPI (`MPI_THREAD_*`).
///
/// The levels are ordered: a library that provides `.serialized` also
/// satisfies a request for `.funneled`.
public enum ThreadLevel: Int, Comparable, Sendable, CaseIterable {
    /// Only one thread exists.
    case single
    /// Many threads, but only the one that initialized MPI calls it.
    case funneled
    /// Any thread may call MPI, but never two at once.
    case serialized
    /// Any thread may call MPI at any time.
    case multiple

    /// The MPI constant for this level.
    var mpiValue: Int32 {
        switch self {
        case .single: return cmpi_thread_single()
        case .funneled: return cmpi_thread_funneled()
        case .serialized: return cmpi_thread_serialized()
        case .multiple: return cmpi_thread_multiple()
        }
    }

    /// The level for an MPI constant; unknown values read as `.single`.
    init(mpiValue: Int32) {
        self = ThreadLevel.allCases.first { $0.mpiValue == mpiValue } ?? .single
    }

    public static func < (lhs: ThreadLevel, rhs: ThreadLevel) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}
