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
    /// Spins briefly, since with one rank per core the peer's store usually
    /// lands within microseconds, then yields the core on each check, so
    /// that with more ranks than cores the awaited rank gets to run.
    public func wait(untilAtLeast target: UInt64) {
        var spins = 0
        while load() < target {
            if spins < 4096 {
                catomic_spin_pause()
                spins += 1
            } else {
                sched_yield()
            }
        }
    }
}
