import Foundation

/// A thread that starts gradient buckets and drives MPI's progress engine
/// while the training thread computes backward.
///
/// Every MPI call of a step happens on this thread between ``arm(start:poll:)``
/// and the return of ``finish(upTo:)``; the training thread makes none in
/// that window, so `MPI_THREAD_SERIALIZED` is enough.
final class ProgressThread {
    /// Pause between progress rounds while requests are in flight. The thread
    /// shares a core with the compute thread under `--bind-to core`, so it
    /// must not spin.
    static let pollInterval: useconds_t = 50

    private let condition = NSCondition()
    private var released = 0
    private var finishing = false
    private var done = true
    private var stopping = false
    private var start: ((Int) -> Void)?
    private var poll: (() -> Bool)?
    // Touched by the worker during a step and by `arm` between steps only.
    private var started = 0
    private var allComplete = true

    init() {
        let thread = Thread { [self] in run() }
        thread.name = "ddp-progress"
        thread.start()
    }

    /// Prepares a step: `start(n)` starts buckets up to `n`, `poll()` tests
    /// the requests in flight and returns whether all are complete.
    func arm(start: @escaping (Int) -> Void, poll: @escaping () -> Bool) {
        condition.lock()
        precondition(done, "ProgressThread: arm() while a step is in flight")
        self.start = start
        self.poll = poll
        released = 0
        started = 0
        allComplete = true
        finishing = false
        done = false
        condition.unlock()
    }

    /// Lets the thread start buckets `0..<count`.
    func release(upTo count: Int) {
        condition.lock()
        released = count
        condition.signal()
        condition.unlock()
    }

    /// Releases the last buckets and blocks until every request is complete.
    func finish(upTo count: Int) {
        condition.lock()
        released = count
        finishing = true
        condition.signal()
        while !done { condition.wait() }
        start = nil
        poll = nil
        condition.unlock()
    }

    /// Ends the thread once it is idle.
    func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    private func run() {
        condition.lock()
        while !stopping {
            if done || (started == released && allComplete && !finishing) {
                condition.wait()
                continue
            }
            let target = released
            let last = finishing
            condition.unlock()
            if target > started {
                start?(target)
                started = target
            }
            allComplete = poll?() ?? true
            condition.lock()
            if last && allComplete && started == released {
                done = true
                condition.broadcast()
            } else if !allComplete {
                condition.unlock()
                usleep(Self.pollInterval)
                condition.lock()
            }
        }
        condition.unlock()
    }
}
