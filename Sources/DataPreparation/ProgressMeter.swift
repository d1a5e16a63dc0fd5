import Foundation

/// Progress of a preparation on standard error: a bar redrawn in place on a
/// terminal, a line every 10% otherwise, and the throughput in MB/s.
public final class ProgressMeter {
    let total: Int
    let label: String
    private let terminal: Bool
    private let quiet: Bool
    private let start = Date()
    private var lastDraw = Date.distantPast
    private var lastTenth = -1
    /// Bytes of input done so far.
    public private(set) var done = 0

    /// - Parameters:
    ///   - total: Input bytes to process.
    ///   - label: What is being prepared, e.g. `text`.
    ///   - quiet: Print nothing (tests).
    public init(total: Int, label: String, quiet: Bool = false) {
        (self.total, self.label, self.quiet) = (max(total, 1), label, quiet)
        terminal = isatty(2) != 0
    }

    /// Seconds since the meter started.
    public var elapsed: Double { Date().timeIntervalSince(start) }

    /// Input megabytes (10^6 bytes) per second so far.
    public var megabytesPerSecond: Double { Double(done) / 1e6 / max(elapsed, 1e-9) }

    /// Sets the bytes done and redraws when due.
    public func update(_ bytes: Int) {
        done = bytes
        guard !quiet else { return }
        let fraction = min(Double(done) / Double(total), 1)
        if terminal {
            guard Date().timeIntervalSince(lastDraw) >= 0.2 || done >= total else { return }
            lastDraw = Date()
            let width = 30, filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            FileHandle.standardError.write(Data(String(format: "\rprepare %@ [%@] %3.0f%%  %.1f MB/s ",
                                                       label, bar, fraction * 100, megabytesPerSecond).utf8))
        } else {
            let tenth = Int(fraction * 10)
            guard tenth > lastTenth else { return }
            lastTenth = tenth
            FileHandle.standardError.write(Data(String(format: "prepare %@: %3.0f%%, %.1f MB/s\n",
                                                       label, fraction * 100, megabytesPerSecond).utf8))
        }
    }

    /// Ends the bar's line on a terminal.
    public func finish() {
        if terminal && !quiet { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
