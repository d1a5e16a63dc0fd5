import MPI
import RunConfig

extension Trainer {
    /// The watchdog for `training.collective_timeout`, or `nil` when it is 0
    /// or there is nobody to wait for (one rank).
    static func makeWatchdog(config: ResolvedConfig, communicator: Communicator) -> CollectiveWatchdog? {
        let timeout = config.run.training.collectiveTimeout
        guard timeout > 0, communicator.size > 1 else { return nil }
        return CollectiveWatchdog(timeout: timeout, rank: communicator.rank)
    }

    /// Runs `body`, a blocking collective, under the watchdog.
    ///
    /// - Parameters:
    ///   - operation: What `body` waits in, for the message.
    ///   - step: The step it belongs to (1-based).
    @inline(__always)
    func watched<T>(_ operation: CollectiveOperation, step: Int, _ body: () throws -> T) rethrows -> T {
        guard let watchdog else { return try body() }
        return try watchdog.guarding(operation, step: step, body)
    }
}
