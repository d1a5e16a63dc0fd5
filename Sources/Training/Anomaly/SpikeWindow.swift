import Foundation

/// The running mean and standard deviation of one quantity (the loss, the
/// global gradient norm) over the last accepted steps, and the test that
/// calls a new value a spike.
///
/// Every rank holds the same window and feeds it the same values (combined
/// over ranks in rank order), so every rank reaches the same verdict
/// without another collective.
struct SpikeWindow {
    /// Steps the statistics cover (`training.spike_window`).
    let capacity: Int
    /// Oldest first.
    private(set) var values: [Double]

    init(capacity: Int, values: [Double] = []) {
        self.capacity = capacity
        self.values = Array(values.suffix(capacity))
    }

    /// Adds an accepted step's value, dropping the oldest beyond the capacity.
    mutating func append(_ value: Double) {
        values.append(value)
        if values.count > capacity { values.removeFirst(values.count - capacity) }
    }

    /// Whether `value` is a spike: its logarithm lies more than `sigmas`
    /// standard deviations above the mean logarithm of the window, and the
    /// value is at least `ratio` times the window's geometric mean.
    ///
    /// Logarithms, because a loss and a norm are positive and their noise is
    /// multiplicative: near zero loss (a model that has learned its data) a
    /// batch at 20x the mean is ordinary, and a plain deviation would call it
    /// a spike. The ratio (`training.spike_ratio`) keeps a steady stretch
    /// from calling an unusual batch a spike: the Shakespeare GPT's loss,
    /// 1.62 with a deviation of 2% of the log, once met a batch at 2.00,
    /// 8.5 deviations up, and went on learning. Nothing is a spike until a quarter of the
    /// window is filled: the first steps' statistics are too thin to judge by.
    ///
    /// - Returns: The window's geometric mean and the deviation of its
    ///   logarithms when `value` is a spike.
    func spike(_ value: Double, sigmas: Double, ratio: Double) -> (typical: Double, deviation: Double)? {
        guard values.count >= max(capacity / 4, 2) else { return nil }
        let logs = values.map(Self.logarithm)
        let mean = logs.reduce(0, +) / Double(logs.count)
        let variance = logs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(logs.count)
        let deviation = variance.squareRoot()
        let threshold = mean + max(sigmas * deviation, log(ratio))
        return Self.logarithm(value) > threshold ? (exp(mean), deviation) : nil
    }

    /// A zero loss or norm counts as a very small one.
    private static func logarithm(_ value: Double) -> Double { log(max(value, 1e-30)) }
}
