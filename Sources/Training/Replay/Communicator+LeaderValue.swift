import Foundation
import MPI

extension Communicator {
    /// Rank 0 runs `body`, and every rank returns its value (sent as JSON),
    /// or every rank throws: rank 0 its error, the others a
    /// ``RankZeroFailure`` with the exit code that error deserves.
    ///
    /// For work only rank 0 can do, such as reading a run directory that the
    /// other ranks need not see. Collective.
    ///
    /// - Parameter what: What rank 0 does, for the others' error, e.g.
    ///   "read the checkpoints of RUN".
    func leaderValue<Value: Codable>(_ what: String, _ body: () throws -> Value) throws -> Value {
        var failure: Error?
        var bytes: [UInt8] = []
        var value: Value?
        if rank == 0 {
            do {
                let made = try body()
                bytes = Array(try JSONEncoder().encode(made))
                value = made
            } catch {
                failure = error
            }
        }
        let code = try broadcast(failure.map { JobExitCode.forError($0) } ?? 0, root: 0)
        if let failure { throw failure }
        if code != 0 { throw RankZeroFailure(what: what, exitCode: code) }
        let count = try broadcast(Int64(bytes.count), root: 0)
        if rank != 0 { bytes = [UInt8](repeating: 0, count: Int(count)) }
        try broadcast(&bytes, root: 0)
        if let value { return value }
        return try JSONDecoder().decode(Value.self, from: Data(bytes))
    }
}
