import Foundation

/// A small CSV classification table with one poisoned row, for the anomaly
/// tests: 120 rows of 4 features and a class of 3, deterministic, and row
/// ``poisonedRow`` with a first feature near Float32's largest value, which
/// overflows a model's first layers when normalization is off.
public enum PoisonedTable {
    /// The poisoned row (data rows from 0).
    public static let poisonedRow = 37

    /// Writes the table as `poisoned.csv` in `directory` and returns its path.
    public static func write(in directory: URL) throws -> String {
        var lines = ["f0,f1,f2,f3,label"]
        var state: UInt64 = 12345
        func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53)
        }
        for row in 0..<120 {
            let label = row % 3
            var features = (0..<4).map { _ in String(format: "%.4f", next() + Double(label) * 0.8) }
            if row == poisonedRow { features[0] = "3.0e38" }
            lines.append(features.joined(separator: ",") + ",\(label)")
        }
        let url = directory.appendingPathComponent("poisoned.csv")
        try lines.joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// A config training an MLP on the table at `path`: 108 training rows at
    /// batch 12 make 9 steps per epoch, 3 epochs, a checkpoint every 4 steps.
    public static func config(path: String) -> String {
        """
        model:
          kind: mlp
          hidden: [8]
        data:
          dataset: csv
          path: \(path)
          normalize: none
          validation_fraction: 0.1
        optimizer:
          kind: sgd
          lr: 0.05
          momentum: 0.9
        training:
          batch_size: 12
          epochs: 3
          log_every: 3
          eval_batch_size: 12
        checkpoint:
          every: 4
          keep_last: 100
        """
    }
}
