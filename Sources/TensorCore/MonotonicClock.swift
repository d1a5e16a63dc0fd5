// Wall-clock timing for benchmarks and step metrics. CLOCK_MONOTONIC never
// jumps with NTP or date changes, unlike gettimeofday.

#if canImport(Glibc)
import Glibc
#endif

/// Nanoseconds from `clock_gettime(CLOCK_MONOTONIC)`.
public enum MonotonicClock {
    /// The current monotonic time in nanoseconds since an arbitrary origin.
    @inlinable
    public static func nanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
    }
}

/// Measures elapsed time since it was started or last reset.
///
/// ```swift
/// var watch = Stopwatch()
/// work()
/// print(watch.elapsedSeconds)
/// ```
public struct Stopwatch: Sendable {
    /// When the stopwatch was started or last reset, in monotonic nanoseconds.
    public private(set) var start: UInt64

    /// A stopwatch started now.
    public init() { start = MonotonicClock.nanoseconds() }

    /// Nanoseconds since start.
    public var elapsedNanoseconds: UInt64 { MonotonicClock.nanoseconds() &- start }

    /// Seconds since start.
    public var elapsedSeconds: Double { Double(elapsedNanoseconds) * 1e-9 }

    /// Restarts the stopwatch now.
    public mutating func reset() { start = MonotonicClock.nanoseconds() }

    /// Returns the seconds since start and restarts, for timing consecutive phases.
    public mutating func lap() -> Double {
        let now = MonotonicClock.nanoseconds()
        defer { start = now }
        return Double(now &- start) * 1e-9
    }
}
