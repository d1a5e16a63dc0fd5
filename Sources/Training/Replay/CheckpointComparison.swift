import Checkpoint
import Foundation

/// Compares a replayed checkpoint with the run's own checkpoint of the same
/// step: every tensor of `model.safetensors` and `optimizer.safetensors` bit
/// for bit (names, shapes and every element's bit pattern, so NaN payloads
/// and signed zeros count), then the parts of `trainer.json` that a
/// continuation depends on: step, sampler position, optimizer step count and
/// every rank's dropout generator.
///
/// Not compared: what describes the run rather than its state (the config's
/// free keys such as `checkpoint.every`, the anomaly history's wording, the
/// file digests, which follow from the tensors).
public struct CheckpointComparison: Sendable {
    /// The tensors compared, over both files.
    public let tensors: Int
    /// The first difference; `nil` when the checkpoints agree bit for bit.
    public let difference: CheckpointDifference?

    /// Elements read per piece, so that a large tensor is never held twice.
    static let chunk = 1 << 20

    /// Compares the checkpoint directories `replayed` and `stored`, whose
    /// `trainer.json` are `replayedState` and `storedState`.
    ///
    /// - Throws: ``CheckpointError`` when a file cannot be opened or read.
    public static func compare(replayed: URL, _ replayedState: TrainerState,
                               stored: URL, _ storedState: TrainerState) throws -> CheckpointComparison {
        var tensors = 0
        for file in [CheckpointStore.modelFile, CheckpointStore.optimizerFile] {
            let (count, difference) = try compareTensors(file, replayed: replayed, stored: stored)
            tensors += count
            if let difference { return CheckpointComparison(tensors: tensors, difference: difference) }
        }
        return CheckpointComparison(tensors: tensors, difference: compareStates(replayedState, storedState))
    }

    /// Compares the tensors of `file` in both directories, in the stored file's order.
    private static func compareTensors(_ file: String, replayed: URL, stored: URL) throws -> (Int, CheckpointDifference?) {
        let mine = try SafetensorsFile(path: replayed.appendingPathComponent(file).path)
        let theirs = try SafetensorsFile(path: stored.appendingPathComponent(file).path)
        func differ(_ item: String, _ detail: String) -> CheckpointDifference {
            CheckpointDifference(file: file, item: item, detail: detail)
        }
        if let missing = theirs.names.first(where: { mine.tensors[$0] == nil }) {
            return (0, differ("tensor \(missing)", "absent from the replay"))
        }
        if let extra = mine.names.first(where: { theirs.tensors[$0] == nil }) {
            return (0, differ("tensor \(extra)", "only in the replay"))
        }
        var compared = 0
        for name in theirs.names {
            let a = try mine.tensor(name), b = try theirs.tensor(name)
            compared += 1
            guard a.shape == b.shape, a.dtype == b.dtype else {
                return (compared, differ("tensor \(name)", "\(a.dtype.rawValue) \(a.shape) replayed, \(b.dtype.rawValue) \(b.shape) stored"))
            }
            var left = [Float](repeating: 0, count: min(chunk, a.count))
            var right = left
            var start = 0
            while start < a.count {
                let piece = start..<min(start + chunk, a.count)
                try left.withUnsafeMutableBufferPointer { try mine.read(name, elements: piece, into: $0.baseAddress!) }
                try right.withUnsafeMutableBufferPointer { try theirs.read(name, elements: piece, into: $0.baseAddress!) }
                for offset in 0..<piece.count where left[offset].bitPattern != right[offset].bitPattern {
                    return (compared, differ("tensor \(name)", "first at element \(start + offset) ("
                                             + describe(left[offset], right[offset]) + ")"))
                }
                start = piece.upperBound
            }
        }
        return (compared, nil)
    }

    /// `0.01234 replayed, 0.01235 stored`, with the bit patterns when the
    /// shortest decimal forms agree (NaNs with other payloads, signed zeros).
    static func describe(_ replayed: Float, _ stored: Float) -> String {
        let (a, b) = ("\(replayed)", "\(stored)")
        guard a == b else { return "\(a) replayed, \(b) stored" }
        func bits(_ value: Float) -> String { "0x" + String(value.bitPattern, radix: 16) }
        return "\(a) (\(bits(replayed))) replayed, \(b) (\(bits(stored))) stored"
    }

    /// The first field of `trainer.json` a continuation depends on that differs.
    private static func compareStates(_ mine: TrainerState, _ theirs: TrainerState) -> CheckpointDifference? {
        func differ(_ item: String, _ a: String, _ b: String) -> CheckpointDifference {
            CheckpointDifference(file: CheckpointStore.stateFile, item: item, detail: "\(a) replayed, \(b) stored")
        }
        func position(_ state: TrainerState) -> String {
            "epoch \(state.samplerPosition.epoch) batch \(state.samplerPosition.batch)"
        }
        if mine.step != theirs.step { return differ("step", "\(mine.step)", "\(theirs.step)") }
        if mine.samplerPosition != theirs.samplerPosition {
            return differ("sampler position", position(mine), position(theirs))
        }
        if mine.optimizer.stepCount != theirs.optimizer.stepCount {
            return differ("optimizer step count", "\(mine.optimizer.stepCount)", "\(theirs.optimizer.stepCount)")
        }
        if mine.dropoutGenerators.count != theirs.dropoutGenerators.count {
            return differ("dropout generators", "\(mine.dropoutGenerators.count) rank(s)", "\(theirs.dropoutGenerators.count)")
        }
        for (rank, (a, b)) in zip(mine.dropoutGenerators, theirs.dropoutGenerators).enumerated() where a != b {
            return differ("dropout generator of rank \(rank)", a.joined(separator: " "), b.joined(separator: " "))
        }
        return nil
    }
}
