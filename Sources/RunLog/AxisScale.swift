import Foundation

/// A linear axis over "nice" bounds: ticks at 1, 2 or 5 times a power of ten,
/// so labels read as round numbers and the data fills most of the axis.
public struct AxisScale: Equatable, Sendable {
    /// The low end of the axis (the first tick).
    public let lower: Double
    /// The high end of the axis (the last tick).
    public let upper: Double
    /// The distance between ticks.
    public let tickStep: Double

    /// An axis covering `minimum...maximum` with about `targetTicks` intervals.
    ///
    /// - Parameters:
    ///   - minimum: The smallest value to show.
    ///   - maximum: The largest value to show.
    ///   - targetTicks: The number of intervals wanted; the result has between about half and twice as many.
    public init(minimum: Double, maximum: Double, targetTicks: Int = 5) {
        precondition(minimum.isFinite && maximum.isFinite, "AxisScale: bounds must be finite, got \(minimum)...\(maximum)")
        precondition(minimum <= maximum, "AxisScale: minimum \(minimum) is above maximum \(maximum)")
        precondition(targetTicks > 0, "AxisScale: targetTicks must be positive")
        var low = minimum, high = maximum
        if high - low < 1e-12 * max(abs(low), abs(high), 1e-300) {
            // A flat series still gets an axis around it.
            let pad = low == 0 ? 1 : abs(low) * 0.1
            low -= pad
            high += pad
        }
        let rough = (high - low) / Double(targetTicks)
        let magnitude = pow(10, floor(log10(rough)))
        let fraction = rough / magnitude
        let nice: Double = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10
        tickStep = nice * magnitude
        lower = floor(low / tickStep + 1e-9) * tickStep
        upper = ceil(high / tickStep - 1e-9) * tickStep
    }

    /// The tick values from ``lower`` to ``upper``.
    public var ticks: [Double] {
        let count = Int(((upper - lower) / tickStep).rounded())
        return (0...count).map { lower + Double($0) * tickStep }
    }

    /// `value`'s position along the axis, 0 at ``lower`` and 1 at ``upper``.
    public func fraction(of value: Double) -> Double {
        (value - lower) / (upper - lower)
    }

    /// A tick label with just enough decimals to tell neighbouring ticks apart;
    /// thousands become `k` and millions `M` to keep labels short.
    public func label(_ value: Double) -> String {
        // The unit is chosen per axis, not per label, so 9k and 10k never sit beside 9000.
        let magnitude = max(abs(lower), abs(upper))
        if magnitude >= 1e6 && tickStep >= 1e5 { return Self.trimmed(value / 1e6, step: tickStep / 1e6) + "M" }
        if magnitude >= 1e4 && tickStep >= 1e3 { return Self.trimmed(value / 1e3, step: tickStep / 1e3) + "k" }
        if value != 0 && tickStep < 1e-4 { return String(format: "%.1e", value) }
        return Self.trimmed(value, step: tickStep)
    }

    private static func trimmed(_ value: Double, step: Double) -> String {
        let decimals = max(0, Int(-floor(log10(step) + 1e-9)))
        let text = String(format: "%.\(decimals)f", value)
        // "-0" reads as a mistake on an axis.
        return text.hasPrefix("-") && Double(text) == 0 ? String(text.dropFirst()) : text
    }
}
