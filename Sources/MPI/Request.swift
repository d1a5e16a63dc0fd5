import CMPI

/// A nonblocking operation in flight (`MPI_Request`).
///
/// The request holds strong references to everything MPI may still touch:
/// the buffer object(s), the communicator, and a custom reduction. They are
/// released once the operation is observed complete by `test()`, `wait()`,
/// or `waitAll(_:)`.
///
/// Releasing a request that is still pending is a programming error: the
/// buffer would be released while MPI may still write into it, and MPI
/// itself would keep a dangling request. `deinit` therefore stops the
/// program with a precondition failure rather than silently waiting, so the
/// missing `wait()` is found where it was forgotten.
public final class Request {
    /// The MPI handle; `MPI_REQUEST_NULL` once complete (or for local requests).
    private var handle: MPI_Request?
    /// Objects that must outlive the operation.
    private var retained: [AnyObject]

    /// Whether the operation has been observed complete.
    public private(set) var isComplete: Bool

    /// Wraps an active MPI request.
    init(handle: MPI_Request?, retaining objects: [AnyObject]) {
        self.handle = handle
        self.retained = objects
        self.isComplete = false
    }

    /// A request whose work was already done (the local fallback).
    init(completed: ()) {
        self.handle = cmpi_request_null()
        self.retained = []
        self.isComplete = true
    }

    deinit {
        precondition(isComplete || !MPI.canCallMPI,
                     "MPI Request released while still pending: call wait() (or test() until true) "
                        + "before dropping it, or MPI may write into freed memory")
    }

    /// Marks the request complete and drops the references it held.
    private func finish() {
        isComplete = true
        handle = cmpi_request_null()
        retained.removeAll()
    }

    /// Checks once for completion without blocking (`MPI_Test`); also drives
    /// progress of the operation.
    ///
    /// - Returns: `true` when the operation has completed.
    public func test() throws -> Bool {
        if isComplete { return true }
        var flag: Int32 = 0
        try check(MPI_Test(&handle, &flag, cmpi_status_ignore()), "MPI_Test")
        if flag != 0 { finish() }
        return isComplete
    }

    /// Blocks until the operation completes (`MPI_Wait`).
    public func wait() throws {
        if isComplete { return }
        do {
            try check(MPI_Wait(&handle, cmpi_status_ignore()), "MPI_Wait")
        } catch {
            // A failed request is no longer active in MPI; nothing will touch
            // the buffer again, so the references can go.
            finish()
            throw error
        }
        finish()
    }

    /// Blocks until every request completes (`MPI_Waitall`).
    ///
    /// Every request is complete when this returns or throws; the first
    /// failure found is thrown.
    ///
    /// - Parameter requests: Requests of this process, in any state.
    public static func waitAll(_ requests: [Request]) throws {
        let pending = requests.filter { !$0.isComplete }
        guard !pending.isEmpty else { return }
        var handles = pending.map { $0.handle }
        var statuses = [MPI_Status](repeating: MPI_Status(), count: pending.count)
        let code = MPI_Waitall(Int32(handles.count), &handles, &statuses)
        guard code != MPI_SUCCESS else {
            for request in pending { request.finish() }
            return
        }
        guard code == MPI_ERR_IN_STATUS else {
            for request in pending { request.finish() }
            throw MPIError(call: "MPI_Waitall", code: code)
        }
        // Requests marked MPI_ERR_PENDING are still active: MPI stopped at the
        // first failure. Complete them one by one so no buffer is released
        // while MPI may still use it.
        var firstFailure: MPIError?
        for (request, status) in zip(pending, statuses) {
            if status.MPI_ERROR == MPI_ERR_PENDING {
                do { try request.wait() } catch { firstFailure = firstFailure ?? error as? MPIError }
            } else {
                request.finish()
                if status.MPI_ERROR != MPI_SUCCESS {
                    firstFailure = firstFailure ?? MPIError(call: "MPI_Waitall", code: status.MPI_ERROR)
                }
            }
        }
        throw firstFailure ?? MPIError(call: "MPI_Waitall", code: code)
    }
}
