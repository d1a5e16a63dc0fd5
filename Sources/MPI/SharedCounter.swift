import CAtomics
#if canImport(Glibc)
import Glibc
#endif

/// A 64-bit word in a ``SharedMemorySegment`` that one rank advances and the
/// others watch.
///
/// A store publishes every write its rank made before it (release); a load
/// that sees the value also sees those writes (acquire). That is the whole
/// protocol between ranks sharing memory: the owner writes data, then stores
/// a larger value; a peer waits for the value, then reads the data.
public struct SharedCounter {
    /// The word; 8-byte aligned, inside shared memory.
    public let address: UnsafeMutablePointer<UInt64>

    /// Wraps the word at `address`.
    public init(_ address: UnsafeMutableRawPointer) {
        precondition(Int(bitPattern: address) % 8 == 0, "SharedCounter: address \(address) is not 8-byte aligned")
        self.address = address.assumingMemoryBound(to: UInt64.self)
    }

    /// The current value (acquire).
    @inline(__always)
    public func load() -> UInt64 { catomic_load_acquire(address) }

    /// Publishes `value` (release).
    @inline(__always)
    public func store(_ value: UInt64) { catomic_store_release(address, value) }

    /// Returns once the value is at least `target`.
    ///
    /// Yields the core for the first few checks, then sleeps between checks
    /// (about 50 µs, the kernel's timer slack). A rank that spins keeps its
    /// CPU busy while the rank it waits for may not be able to run (this
    /// VM's two virtual CPUs sometimes share one core, and a `pause` loop
    /// makes the hypervisor take the CPU away); sleeping measured best
    /// (docs/benchmarks.md) and lets the awaited rank run when ranks
    /// outnumber cores.
    public func wait(untilAtLeast target: UInt64) {
        wait(untilAtLeast: target) {}
    }

    /// Returns once the value is at least `target`, calling `betweenChecks`
    /// before each pause (to drive MPI's progress while waiting, say).
    public func wait(untilAtLeast target: UInt64, betweenChecks: () -> Void) {
        var backoff = WaitBackoff()
        while load() < target {
            betweenChecks()
            backoff.pause()
        }
    }
}

/// The pause between two checks of something another rank will change: a
/// few yields of the core, then short sleeps (see ``SharedCounter/wait(untilAtLeast:)``
/// for why it does not spin).
public struct WaitBackoff {
    private var checks = 0

    public init() {}

    /// Gives the core away once.
    public mutating func pause() {
        if checks < 64 {
            sched_yield()
            checks += 1
        } else {
            var interval = timespec(tv_sec: 0, tv_nsec: 1_000)
            nanosleep(&interval, nil)
        }
    }
}
