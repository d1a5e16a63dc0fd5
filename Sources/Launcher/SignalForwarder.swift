import Dispatch
import Foundation
import Training

/// Receives SIGINT, SIGTERM and SIGUSR1 for the launcher and passes them on
/// to the running mpirun, which passes them to the ranks.
///
/// SIGUSR1, and a first SIGTERM, reach mpirun as SIGUSR1: mpirun forwards
/// SIGUSR1 untouched, while its own answer to SIGTERM kills the ranks a second
/// later, too soon for a checkpoint. The ranks treat both alike (checkpoint at
/// the next step boundary, exit with the preemption code). A second SIGTERM,
/// and SIGINT, are passed on as they are: stop now. A SIGTERM within a few
/// seconds of the first is a duplicate, not a second request: Slurm's
/// `scancel` signals every process of the job, so the launcher hears it both
/// from Slurm and from its batch script.
public final class SignalForwarder {
    public static let handled = [SIGINT, SIGTERM, SIGUSR1]

    private let lock = NSLock()
    private var _child: pid_t?
    private var _stopRequested = false
    private var firstTerm: Date?
    /// Seconds after a first SIGTERM during which another one is a duplicate.
    public static let duplicateWindow = 5.0
    private var sources: [DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "ddp.launch.signals")

    public init() {
        // Until the dispatch sources install their handler, the recording
        // one (``PreemptionSignal/holdSignals(_:)``) takes the signals, in
        // any thread: OpenBLAS's threads block none, so SIG_IGN here would
        // discard one that reaches them. Once the sources' handler is in
        // place, what was recorded meanwhile is handled.
        Self.holdSignals()
        var set = Self.handledSet
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        for signal in Self.handled {
            let source = DispatchSource.makeSignalSource(signal: signal, queue: queue)
            source.setEventHandler { [unowned self] in self.received(signal) }
            source.resume()
            sources.append(source)
        }
        let deadline = Date().addingTimeInterval(2)
        while Self.handled.contains(where: PreemptionSignal.isRecording) && Date() < deadline { usleep(1_000) }
        let early = PreemptionSignal.received
        if early != 0 {
            PreemptionSignal.reset()
            queue.async { [unowned self] in self.received(early) }
        }
    }

    private static var handledSet: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in handled { sigaddset(&set, signal) }
        return set
    }

    /// Blocks the handled signals in this thread (and the threads and
    /// programs it starts later), so that they wait until handled, and
    /// records one another thread takes (``PreemptionSignal/holdSignals(_:)``).
    public static func holdSignals() {
        PreemptionSignal.holdSignals(handled)
    }

    /// The running mpirun, to which signals go.
    public var child: pid_t? {
        get { lock.lock(); defer { lock.unlock() }; return _child }
        set { lock.lock(); _child = newValue; lock.unlock() }
    }

    /// Whether a signal asked the launcher to stop: no more restarts.
    public var stopRequested: Bool {
        lock.lock(); defer { lock.unlock() }
        return _stopRequested
    }

    /// Whether the stop asked for is a preemption (SIGUSR1 or a first
    /// SIGTERM: checkpoint and exit 75), not SIGINT or a second SIGTERM.
    public var preemptionRequested: Bool {
        lock.lock(); defer { lock.unlock() }
        return _preemption
    }
    private var _preemption = false

    /// The run directory's ``PreemptionSignal/requestFile``: written on a
    /// preemption, so that ranks still starting up learn of it too.
    public var stopRequestFile: String? {
        get { lock.lock(); defer { lock.unlock() }; return _stopRequestFile }
        set { lock.lock(); _stopRequestFile = newValue; lock.unlock() }
    }
    private var _stopRequestFile: String?

    /// Removes a request left by an earlier launch; the run directory is
    /// created on the way if needed, so that the request can be written.
    public func clearStopRequestFile() {
        guard let path = stopRequestFile else { return }
        unlink(path)
        try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                 withIntermediateDirectories: true)
    }

    /// Sleeps `seconds` unless a stop is requested; returns whether it slept through.
    public func sleep(seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if stopRequested { return false }
            usleep(50_000)
        }
        return !stopRequested
    }

    private func received(_ signal: Int32) {
        lock.lock()
        _stopRequested = true
        var forward = signal
        if signal == SIGTERM {
            if let firstTerm {
                if Date().timeIntervalSince(firstTerm) < Self.duplicateWindow {
                    lock.unlock()
                    say("received SIGTERM again within \(Int(Self.duplicateWindow)) s: taken as the same request")
                    return
                }
            } else {
                firstTerm = Date()
                forward = SIGUSR1
            }
        }
        _preemption = forward == SIGUSR1
        let child = _child
        let requestFile = _preemption ? _stopRequestFile : nil
        lock.unlock()
        if let requestFile { FileManager.default.createFile(atPath: requestFile, contents: Data()) }
        let name = signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "SIGUSR1"
        let forwardedName = forward == SIGUSR1 ? "SIGUSR1" : name
        say("received \(name)" + (child.map { ", sending \(forwardedName) to mpirun (pid \($0))" } ?? "")
            + (forward == SIGUSR1 ? ": ranks checkpoint at the next step boundary and stop" : ": stopping"))
        if let child { kill(child, forward) }
    }
}
