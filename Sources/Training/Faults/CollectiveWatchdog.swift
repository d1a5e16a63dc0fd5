import Foundation
import MPI
import TensorCore

/// A blocking collective the training loop waits in, named in the watchdog's message.
public enum CollectiveOperation: String, Sendable, CaseIterable {
    case startup = "startup checks (structure and parameter broadcast)"
    case gradientReduction = "gradient reduction"
    case gradientNorm = "gradient norm allreduce"
    case parameterGather = "parameter gather"
    case lossAllreduce = "loss allreduce"
    case consistencyCheck = "consistency check"
    case evaluation = "evaluation"
    case checkpoint = "checkpoint"
    case agreement = "step-boundary agreement"
}

/// Ends the whole job when a collective does not complete in time, so a rank
/// that hangs, deadlocks or stops calling collectives never leaves the others
/// waiting forever.
///
/// The training thread arms the watchdog before it waits in a collective and
/// disarms it after; a background thread checks the deadline a few times per
/// timeout. Arming takes a mutex and writes three words: nothing is allocated
/// per step. On expiry the handler runs on the watchdog thread; the default
/// prints one line naming the rank, the step and the operation and calls
/// `MPI_Abort`, which `mpirun` turns into the end of every rank.
///
/// ```swift
/// let watchdog = CollectiveWatchdog(timeout: 300, rank: world.rank)
/// try watchdog.guarding(.gradientReduction, step: step) { try reducer.finish() }
/// ```
public final class CollectiveWatchdog {
    /// The exit code a watchdog abort asks `mpirun` to report.
    public static let exitCode: Int32 = JobExitCode.watchdog

    /// Seconds a collective may take.
    public let timeout: Double
    /// This process's rank, for the message.
    public let rank: Int

    private let state: WatchdogState
    private let thread: pthread_t

    /// Starts the watchdog thread.
    ///
    /// - Parameters:
    ///   - timeout: Seconds a collective may block; must be positive.
    ///   - rank: This process's rank, named in the message.
    ///   - onTimeout: Runs once, on the watchdog thread, with the message. The
    ///     default writes it to standard error and aborts the MPI job with
    ///     ``exitCode``; tests pass a recorder.
    public init(timeout: Double, rank: Int, onTimeout: ((String) -> Void)? = nil) {
        precondition(timeout > 0 && timeout.isFinite, "CollectiveWatchdog: timeout must be positive, got \(timeout)")
        self.timeout = timeout
        self.rank = rank
        state = WatchdogState(timeout: timeout, rank: rank, onTimeout: onTimeout ?? Self.abortJob)
        // The thread owns a reference to the state only, so the watchdog itself
        // is released normally and its deinit stops the thread.
        let context = Unmanaged.passRetained(state).toOpaque()
        var handle = pthread_t()
        let created = pthread_create(&handle, nil, { context in
            Unmanaged<WatchdogState>.fromOpaque(context!).takeRetainedValue().watch()
            return nil
        }, context)
        precondition(created == 0, "CollectiveWatchdog: cannot start its thread (error \(created))")
        thread = handle
    }

    deinit {
        stop()
    }

    /// Starts the clock for one blocking collective.
    ///
    /// - Parameters:
    ///   - operation: What is about to block.
    ///   - step: The step in progress (1-based), named in the message.
    public func arm(_ operation: CollectiveOperation, step: Int) {
        let deadline = MonotonicClock.nanoseconds() &+ UInt64(timeout * 1e9)
        state.locked {
            state.deadline = deadline
            state.operation = operation
            state.step = step
            state.armed = true
        }
    }

    /// Stops the clock: the collective completed (or threw).
    public func disarm() {
        state.locked { state.armed = false }
    }

    /// Runs `body` with the watchdog armed for `operation`.
    ///
    /// - Parameters:
    ///   - operation: What `body` blocks in.
    ///   - step: The step in progress (1-based).
    @inline(__always)
    public func guarding<T>(_ operation: CollectiveOperation, step: Int, _ body: () throws -> T) rethrows -> T {
        arm(operation, step: step)
        defer { disarm() }
        return try body()
    }

    /// Ends the watchdog thread and waits for it. Idempotent.
    public func stop() {
        let wasRunning = state.locked { () -> Bool in
            defer { state.stopping = true }
            return !state.stopping
        }
        guard wasRunning else { return }
        pthread_cond_signal(state.condition)
        if pthread_equal(thread, pthread_self()) == 0 {
            pthread_join(thread, nil)
        } else {
            pthread_detach(thread)
        }
    }

    /// Whether the timeout has fired.
    public var hasFired: Bool {
        state.locked { state.fired }
    }

    /// The folder of a run directory where a firing watchdog leaves its
    /// message, one file per rank (`rank-N`), for `ddp launch`.
    public static let reportFolder = ".watchdog"

    /// Makes the watchdog write its message to `directory/rank-N` before
    /// the job is aborted, so that the launcher learns of it even when
    /// mpirun itself cannot end (a host that stopped answering keeps it
    /// waiting for that host's daemon).
    public func setReportDirectory(_ directory: String) {
        state.locked { state.reportDirectory = directory }
    }

    /// Tells the watchdog where the ranks run, for its message: the host of
    /// each rank, indexed by rank. Call once, after startup.
    public func setHosts(_ hosts: [String]) {
        state.locked { state.hosts = hosts }
    }

    /// The message for a collective that timed out.
    ///
    /// - Parameter hosts: The host of every rank, or empty when unknown. When
    ///   the ranks span hosts, the message names the ranks of the other
    ///   hosts, which this rank cannot see: when a host is cut off, only the
    ///   ranks that can still reach the launcher get their message out.
    public static func message(rank: Int, step: Int, operation: CollectiveOperation, timeout: Double,
                               hosts: [String] = []) -> String {
        let here = rank < hosts.count ? " on \(hosts[rank])" : ""
        var text = "watchdog: rank \(rank)\(here) waited more than \(formatSeconds(timeout)) s in the \(operation.rawValue) "
            + "at step \(step) (training.collective_timeout); "
        let elsewhere = rank < hosts.count ? otherHosts(than: hosts[rank], hosts) : ""
        if elsewhere.isEmpty {
            text += "another rank stopped, hung or died: aborting the job"
        } else {
            text += "a rank stopped, hung or died, or a host stopped answering; ranks on other hosts: \(elsewhere): aborting the job"
        }
        return text
    }

    /// "2, 3 on b; 4 on c": the ranks not on `host`, grouped by host in rank order.
    static func otherHosts(than host: String, _ hosts: [String]) -> String {
        var order: [String] = []
        var ranks: [String: [Int]] = [:]
        for (rank, name) in hosts.enumerated() where name != host {
            if ranks[name] == nil { order.append(name) }
            ranks[name, default: []].append(rank)
        }
        return order.map { name in ranks[name]!.map(String.init).joined(separator: ", ") + " on \(name)" }
            .joined(separator: "; ")
    }

    private static func formatSeconds(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(format: "%.3g", seconds)
    }

    /// The default expiry: one line on standard error, then `MPI_Abort`.
    private static func abortJob(_ message: String) {
        // write(2) directly: the main thread may hold stdio or Foundation locks while blocked.
        let line = "ddp: error: \(message)\n"
        line.withCString { _ = write(STDERR_FILENO, $0, strlen($0)) }
        MPI.abort(exitCode: exitCode)
    }
}

/// What the training thread and the watchdog thread share, behind one mutex.
private final class WatchdogState {
    let timeout: Double
    let rank: Int
    let onTimeout: (String) -> Void
    // Heap-allocated: pthread objects must not move, which a Swift stored property may.
    let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    // Guarded by `mutex`.
    var deadline: UInt64 = 0
    var operation: CollectiveOperation = .startup
    var step = 0
    var armed = false
    var stopping = false
    var fired = false
    var hosts: [String] = []
    var reportDirectory: String?

    init(timeout: Double, rank: Int, onTimeout: @escaping (String) -> Void) {
        (self.timeout, self.rank, self.onTimeout) = (timeout, rank, onTimeout)
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        // Timed waits measure monotonic time, like the deadline.
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    @inline(__always)
    func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// The watchdog thread: sleeps a check interval at a time and fires once
    /// when an armed deadline has passed.
    func watch() {
        // Checking a few times per timeout bounds the overshoot to a fraction of it.
        let interval = UInt64(min(max(timeout / 8, 0.01), 1.0) * 1e9)
        pthread_mutex_lock(mutex)
        while !stopping {
            let now = MonotonicClock.nanoseconds()
            if armed && now >= deadline && !fired {
                fired = true
                let text = CollectiveWatchdog.message(rank: rank, step: step, operation: operation, timeout: timeout,
                                                      hosts: hosts)
                let directory = reportDirectory
                pthread_mutex_unlock(mutex)
                if let directory { report(text, in: directory) }
                onTimeout(text)
                pthread_mutex_lock(mutex)
                continue
            }
            let wake = now &+ interval
            var until = timespec(tv_sec: Int(wake / 1_000_000_000), tv_nsec: Int(wake % 1_000_000_000))
            pthread_cond_timedwait(condition, mutex, &until)
        }
        pthread_mutex_unlock(mutex)
    }

    /// Writes `text` to `directory/rank-N` with plain system calls: the
    /// training thread may hold Foundation's locks while it is stuck.
    private func report(_ text: String, in directory: String) {
        mkdir(directory, 0o755)
        let path = directory + "/rank-\(rank)"
        let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
        guard fd >= 0 else { return }
        (text + "\n").withCString { _ = write(fd, $0, strlen($0)) }
        close(fd)
    }
}
