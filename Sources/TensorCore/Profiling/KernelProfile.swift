// Per-kernel time of training steps, for `ddp bench train --profile`.
//
// Regions nest (a gradient-averaging call inside backward, the bias pass
// inside a linear layer); each keeps its exclusive time, so the regions of a
// step add up to the time spent inside its outermost regions and nothing is
// counted twice. Only the thread that started the profile records: the data
// loader's and the communication thread's work shows up where the training
// thread waits for it.

#if canImport(Glibc)
import Glibc
#endif

/// Exclusive time, calls and FLOPs per ``ProfileRegion`` while enabled.
public enum KernelProfile {
    /// One region's totals.
    public struct Entry: Sendable {
        public var name: String
        public var group: ProfileRegion.Group
        public var seconds: Double
        public var calls: Int
        public var flops: Double
    }

    /// Whether regions are being measured; false costs one load and branch per region.
    nonisolated(unsafe) public static var isEnabled = false
    @usableFromInline nonisolated(unsafe) static var recorder = Recorder()

    /// Zeroes the totals and makes the calling thread the one that records,
    /// without measuring yet (see ``resume()``).
    public static func reset() {
        isEnabled = false
        recorder = Recorder()
        recorder.thread = pthread_self()
    }

    /// Starts measuring on the calling thread, from zero.
    public static func start() {
        reset()
        isEnabled = true
    }

    /// Measures again, adding to the totals since ``start()`` or ``reset()``.
    public static func resume() { isEnabled = true }

    /// Stops measuring; the totals stay readable through ``entries()``.
    public static func stop() { isEnabled = false }

    /// The regions entered since ``start()``, in registration order.
    public static func entries() -> [Entry] {
        recorder.seconds.indices.compactMap { index in
            guard recorder.calls[index] > 0 else { return nil }
            let (name, group) = ProfileRegistry.shared.entry(index)
            return Entry(name: name, group: group, seconds: Double(recorder.nanoseconds[index]) * 1e-9,
                         calls: recorder.calls[index], flops: recorder.flops[index])
        }
    }

    /// Runs `body` inside `region`, adding `flops` to it.
    @inlinable
    public static func measure<T>(_ region: ProfileRegion, flops: Double = 0, _ body: () throws -> T) rethrows -> T {
        guard isEnabled else { return try body() }
        guard enter(region, flops: flops) else { return try body() }
        defer { exit() }
        return try body()
    }

    /// Opens `region` on the recording thread; false (nothing opened) on any other.
    @usableFromInline
    static func enter(_ region: ProfileRegion, flops: Double) -> Bool {
        guard pthread_equal(recorder.thread, pthread_self()) != 0 else { return false }
        let now = MonotonicClock.nanoseconds()
        recorder.grow(to: region.index + 1)
        if let open = recorder.stack.last { recorder.nanoseconds[open] &+= now &- recorder.since }
        recorder.stack.append(region.index)
        recorder.calls[region.index] += 1
        recorder.flops[region.index] += flops
        recorder.since = now
        return true
    }

    /// Closes the innermost open region.
    @usableFromInline
    static func exit() {
        let now = MonotonicClock.nanoseconds()
        guard let open = recorder.stack.popLast() else { return }
        recorder.nanoseconds[open] &+= now &- recorder.since
        recorder.since = now
    }

    @usableFromInline
    struct Recorder {
        var thread: pthread_t = pthread_self()
        var nanoseconds: [UInt64] = []
        var calls: [Int] = []
        var flops: [Double] = []
        var stack: [Int] = []
        var since: UInt64 = 0

        init() { stack.reserveCapacity(16) }

        var seconds: Range<Int> { 0..<nanoseconds.count }

        mutating func grow(to count: Int) {
            guard nanoseconds.count < count else { return }
            let more = max(count, ProfileRegistry.shared.count) - nanoseconds.count
            nanoseconds += repeatElement(0, count: more)
            calls += repeatElement(0, count: more)
            flops += repeatElement(0, count: more)
        }
    }
}
