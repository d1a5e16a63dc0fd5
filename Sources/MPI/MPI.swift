import CMPI
import Foundation

/// Process-wide MPI state: initialization, the world communicator, and
/// library queries.
///
/// When the process was not started by a launcher (`mpirun`, `srun`: none of
/// `OMPI_COMM_WORLD_SIZE`, `PMIX_RANK`, `PMI_RANK` is set), MPI is never
/// initialized. The world is then a local size-1 communicator whose
/// collectives are plain copies, so single-process programs and unit tests
/// run the same code without touching the MPI library.
public enum MPI {
    /// Guards the mutable state below; initialization can race with `world`.
    private static let lock = NSLock()
    private static var _providedLevel: ThreadLevel?
    private static var _finalized = false
    private static var _world: Communicator?

    /// Whether this process was started by an MPI launcher.
    ///
    /// Decided once from the environment at first use.
    public static let isLaunched: Bool = {
        let environment = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"].contains { environment[$0] != nil }
    }()

    /// Whether the module runs without MPI (size-1 local fallback).
    public static var isLocal: Bool { !isLaunched }

    /// Initializes MPI, or the local fallback, once per process.
    ///
    /// Later calls return the level recorded by the first one. Under a launcher
    /// this calls `MPI_Init_thread` and registers `MPI.finalize()` to run at
    /// exit; in the fallback nothing is called and the requested level is
    /// recorded as provided.
    ///
    /// - Parameter threadLevel: The thread support the program needs.
    /// - Returns: The thread support the library provides.
    @discardableResult
    public static func initialize(threadLevel: ThreadLevel = .funneled) throws -> ThreadLevel {
        lock.lock()
        defer { lock.unlock() }
        return try initializeLocked(threadLevel: threadLevel)
    }

    private static func initializeLocked(threadLevel: ThreadLevel) throws -> ThreadLevel {
        if let level = _providedLevel { return level }
        precondition(!_finalized, "MPI.initialize: MPI was already finalized and cannot be restarted")
        let level: ThreadLevel
        let world: Communicator
        if isLaunched {
            var provided: Int32 = 0
            // Before any communicator has MPI_ERRORS_RETURN, a failure here
            // would abort through MPI_ERRORS_ARE_FATAL anyway; check for form.
            try check(MPI_Init_thread(nil, nil, threadLevel.mpiValue, &provided), "MPI_Init_thread")
            level = ThreadLevel(mpiValue: provided)
            try check(MPI_Comm_set_errhandler(cmpi_comm_world(), cmpi_errors_return()), "MPI_Comm_set_errhandler")
            try check(MPI_Comm_set_errhandler(cmpi_comm_self(), cmpi_errors_return()), "MPI_Comm_set_errhandler")
            world = try Communicator(borrowing: cmpi_comm_world())
            atexit { MPI.finalize() }
        } else {
            level = threadLevel
            world = Communicator.local()
        }
        _providedLevel = level
        _world = world
        return level
    }

    /// The thread level provided, or `nil` before `initialize(threadLevel:)`.
    public static var providedThreadLevel: ThreadLevel? {
        lock.lock()
        defer { lock.unlock() }
        return _providedLevel
    }

    /// Whether `initialize(threadLevel:)` has run.
    public static var isInitialized: Bool { providedThreadLevel != nil }

    /// Whether `finalize()` has run.
    public static var isFinalized: Bool {
        lock.lock()
        defer { lock.unlock() }
        return _finalized
    }

    /// All processes of the job (`MPI_COMM_WORLD`), or the local size-1 world.
    ///
    /// Initializes with `.funneled` on first use if `initialize(threadLevel:)`
    /// was not called; a failure there stops the program.
    public static var world: Communicator {
        lock.lock()
        defer { lock.unlock() }
        if let world = _world { return world }
        do {
            _ = try initializeLocked(threadLevel: .funneled)
        } catch {
            fatalError("MPI.world: initialization failed: \(error)")
        }
        return _world!
    }

    /// Shuts MPI down. Idempotent; also runs at process exit.
    ///
    /// Communicators and operations released afterwards skip their MPI free
    /// calls. Nonblocking requests must have completed before this.
    public static func finalize() {
        lock.lock()
        defer { lock.unlock() }
        guard !_finalized else { return }
        _finalized = true
        guard isLaunched, _providedLevel != nil else { return }
        var alreadyFinalized: Int32 = 0
        MPI_Finalized(&alreadyFinalized)
        if alreadyFinalized == 0 { MPI_Finalize() }
    }

    /// Whether handles may still be freed through MPI.
    static var canCallMPI: Bool {
        isLaunched && isInitialized && !isFinalized
    }

    /// The name of the host this rank runs on (`MPI_Get_processor_name`).
    public static var processorName: String {
        guard isLaunched, isInitialized else { return ProcessInfo.processInfo.hostName }
        var name = [CChar](repeating: 0, count: Int(cmpi_max_processor_name()) + 1)
        var length: Int32 = 0
        guard MPI_Get_processor_name(&name, &length) == MPI_SUCCESS else {
            return ProcessInfo.processInfo.hostName
        }
        return String(decoding: name[0..<Int(length)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The MPI library's version banner (`MPI_Get_library_version`).
    ///
    /// Callable before initialization; in the fallback it names the linked
    /// library too, since asking costs nothing.
    public static var libraryVersion: String {
        var text = [CChar](repeating: 0, count: Int(cmpi_max_library_version_string()) + 1)
        var length: Int32 = 0
        guard MPI_Get_library_version(&text, &length) == MPI_SUCCESS else { return "unknown" }
        let bytes = text[0..<Int(length)].map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines.union(CharacterSet(charactersIn: "\0")))
    }

    /// Seconds since an arbitrary point in the past (`MPI_Wtime`, or a
    /// monotonic clock in the fallback).
    public static func wallTime() -> Double {
        if isLaunched && isInitialized { return MPI_Wtime() }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
    }

    /// Ends every process of the job (`MPI_Abort` on the world), or exits this
    /// process in the fallback.
    ///
    /// - Parameter exitCode: The status the launcher reports.
    public static func abort(exitCode: Int32) -> Never {
        if canCallMPI {
            MPI_Abort(cmpi_comm_world(), exitCode)
        }
        exit(exitCode)
    }
}
