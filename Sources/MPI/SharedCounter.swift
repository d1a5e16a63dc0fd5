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
    /// (about 50 µs, the kernel's timer slack). Both choices were measured on
    /// this virtual machine, whose two virtual CPUs the host sometimes runs on
    /// one physical core: a rank that spins keeps its CPU busy while the rank
    /// it waits for cannot run, and a `pause` loop makes the hypervisor take
    /// the CPU away (pause-loop exiting). `mpirun -np 2 ddp bench train
    /// --config configs/bench-mlp.yaml --against-one-rank --steps 10 --rounds 21`,
    /// median speedup per job, alternating jobs: spinning on `pause` 1.55-1.95
    /// (median 1.65 of 5); yielding only 1.48-1.94 (median 1.61 of 6);
    /// yielding, then sleeping 1.71-1.97 (median 1.83 of 6). Sleeping also
    /// lets the awaited rank run when there are more ranks than cores.
    public func wait(untilAtLeast target: UInt64) {
        var checks = 0
        while load() < target {
            if checks < 64 {
                sched_yield()
                checks += 1
            } else {
                var interval = timespec(tv_sec: 0, tv_nsec: 1_000)
                nanosleep(&interval, nil)
            }
        }
    }
}
