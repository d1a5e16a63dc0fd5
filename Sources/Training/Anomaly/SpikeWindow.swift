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

    /// Whether `value` lies more than `sigmas` standard deviations above the
    /// window's mean, and by at least a tenth of the mean.
    ///
    /// The tenth keeps a flat stretch (a near-zero deviation) from calling
    /// noise a spike. Nothing is a spike until a quarter of the window is
    /// filled: the first steps' statistics are too thin to judge by.
    ///
    /// - Returns: The window's mean and standard deviation when `value` is a spike.
    func spike(_ value: Double, sigmas: Double) -> (mean: Double, deviation: Double)? {
        guard values.count >= max(capacity / 4, 2) else { return nil }
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
        let deviation = variance.squareRoot()
        let threshold = mean + max(sigmas * deviation, 0.1 * abs(mean))
        return value > threshold ? (mean, deviation) : nil
    }
}
