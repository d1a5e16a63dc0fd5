import MPI
import NeuralNet
import TensorCore

/// Keeps the replicas of one model identical across a communicator: checks
/// they were built alike, copies rank 0's parameters to all, and compares
/// checksums during training.
public struct ReplicaSync {
    /// The data-parallel group.
    public let communicator: Communicator

    public init(communicator: Communicator) {
        self.communicator = communicator
    }

    /// Verifies every rank describes the same model and run.
    ///
    /// Each rank lists `fields` (name → value, e.g. every parameter's name and
    /// shape, the config digest, the data set's size); the lists are gathered,
    /// and if any rank differs from rank 0 every rank throws the same error
    /// naming the first such rank and field, so no rank is left waiting.
    ///
    /// - Throws: ``ReplicaError/structureMismatch(rank:field:expected:actual:)``, or an ``MPIError``.
    public func verifySameStructure(_ fields: [(name: String, value: String)]) throws {
        guard communicator.size > 1 else { return }
        let text = fields.map { "\($0.name)=\($0.value)" }.joined(separator: "\n")
        let bytes = Array(text.utf8)
        let counts = try communicator.allGather([Int64(bytes.count)]).map(Int.init)
        let all = try communicator.allGather(bytes, counts: counts)
        var offset = 0
        var texts: [String] = []
        for count in counts {
            texts.append(String(decoding: all[offset..<(offset + count)], as: UTF8.self))
            offset += count
        }
        let reference = texts[0].split(separator: "\n", omittingEmptySubsequences: false)
        for rank in 1..<texts.count where texts[rank] != texts[0] {
            let lines = texts[rank].split(separator: "\n", omittingEmptySubsequences: false)
            for i in 0..<max(lines.count, reference.count) {
                let mine = i < lines.count ? String(lines[i]) : "(missing)"
                let theirs = i < reference.count ? String(reference[i]) : "(missing)"
                if mine != theirs {
                    let field = (i < lines.count ? mine : theirs).split(separator: "=", maxSplits: 1).first.map(String.init) ?? "?"
                    throw ReplicaError.structureMismatch(
                        rank: rank, field: field,
                        expected: value(of: theirs), actual: value(of: mine))
                }
            }
        }
    }

    /// Copies rank 0's parameters into every rank's `parameters.values`.
    public func broadcastParameters(_ parameters: ParameterStore) throws {
        guard communicator.size > 1 else { return }
        // Chunks of 4 Mi floats keep each message under shared memory's 16 MiB cliff.
        let chunk = 4 << 20
        var start = 0
        while start < parameters.count {
            let end = min(start + chunk, parameters.count)
            try communicator.broadcast(
                UnsafeMutableBufferPointer(start: parameters.values.pointer + start, count: end - start), root: 0)
            start = end
        }
    }

    /// A checksum of the exact bits of the parameters.
    public static func checksum(of parameters: ParameterStore) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        let bits = UnsafeRawPointer(parameters.values.pointer).assumingMemoryBound(to: UInt32.self)
        for i in 0..<parameters.count {
            hash = (hash ^ UInt64(bits[i])) &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// Compares parameter checksums across ranks.
    ///
    /// - Throws: ``ReplicaError/replicasDiverged(step:ranks:)`` on every rank when any differ.
    public func verifyConsistent(_ parameters: ParameterStore, step: Int) throws {
        guard communicator.size > 1 else { return }
        let sums = try communicator.allGather([Int64(bitPattern: Self.checksum(of: parameters))])
        let differing = sums.indices.filter { sums[$0] != sums[0] }
        if !differing.isEmpty {
            throw ReplicaError.replicasDiverged(step: step, ranks: [0] + differing)
        }
    }

    private func value(of line: String) -> String {
        let parts = line.split(separator: "=", maxSplits: 1)
        return parts.count == 2 ? String(parts[1]) : line
    }
}

/// Replicas that are not, or no longer, the same model.
public enum ReplicaError: Error, Equatable, CustomStringConvertible {
    case structureMismatch(rank: Int, field: String, expected: String, actual: String)
    case replicasDiverged(step: Int, ranks: [Int])

    public var description: String {
        switch self {
        case let .structureMismatch(rank, field, expected, actual):
            return "rank \(rank) differs from rank 0 in \(field): rank 0 has \(expected), rank \(rank) has \(actual)"
        case let .replicasDiverged(step, ranks):
            return "replicas diverged at step \(step): parameter checksums differ between ranks \(ranks.map(String.init).joined(separator: ", "))"
        }
    }
}
