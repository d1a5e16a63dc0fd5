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
    /// Yields the core between checks instead of spinning on `pause`: on
    /// this virtual machine a `pause` loop makes the hypervisor take the CPU
    /// away (pause-loop exiting), and the waiting rank then came back late.
    /// Measured with `mpirun -np 2 ddp bench train --config
    /// configs/bench-mlp.yaml --against-one-rank --steps 10 --rounds 21`,
    /// five alternating jobs each: median speedup 1.55-1.95 (median 1.65)
    /// spinning on `pause`, 1.65-1.93 (median 1.90) yielding. Yielding also
    /// lets the awaited rank run when there are more ranks than cores.
    public func wait(untilAtLeast target: UInt64) {
        while load() < target {
            sched_yield()
        }
    }
}
