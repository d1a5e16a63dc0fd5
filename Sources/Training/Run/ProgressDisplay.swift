import Foundation

/// Rank 0's view of a run: a live bar on a terminal, plain log lines elsewhere.
public final class ProgressDisplay {
    private let isTerminal: Bool
    private let totalSteps: Int?
    private var barVisible = false

    /// - Parameters:
    ///   - totalSteps: The steps the run will take, when known, for the bar and ETA.
    ///   - forcePlain: Log lines even on a terminal.
    public init(totalSteps: Int?, forcePlain: Bool = false) {
        self.totalSteps = totalSteps
        // Under mpirun a rank's stdout is a pseudo-terminal even when mpirun's
        // own output goes to a file, so launch scripts say so through the environment.
        isTerminal = !forcePlain && isatty(STDOUT_FILENO) != 0 && getenv("DDP_PLAIN_PROGRESS") == nil
    }

    /// Shows the state after `step`.
    public func update(step: Int, epoch: Int, loss: Double, learningRate: Double,
                       samplesPerSecond: Double, elapsed: Double, logLine: Bool) {
        let eta: String
        if let total = totalSteps, step > 0 {
            eta = Self.duration(elapsed / Double(step) * Double(total - step))
        } else {
            eta = "?"
        }
        let stepText = totalSteps.map { "\(step)/\($0)" } ?? "\(step)"
        let stats = String(format: "loss %.4f  lr %.3g  %.0f samples/s", loss, learningRate, samplesPerSecond)
        if isTerminal {
            let width = 24
            let fraction = totalSteps.map { Double(step) / Double(max($0, 1)) } ?? 0
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            print("\r\u{1B}[2K[\(bar)] step \(stepText)  epoch \(epoch)  \(stats)  eta \(eta)", terminator: "")
            fflush(stdout)
            barVisible = true
        } else if logLine {
            print("step \(stepText)  epoch \(epoch)  \(stats)  elapsed \(Self.duration(elapsed))  eta \(eta)")
            fflush(stdout)
        }
    }

    /// Prints a line of its own (an evaluation, a checkpoint) without breaking the bar.
    public func message(_ text: String) {
        if barVisible {
            print("\r\u{1B}[2K", terminator: "")
            barVisible = false
        }
        print(text)
        fflush(stdout)
    }

    /// Ends the bar's line.
    public func finish() {
        if barVisible {
            print("")
            barVisible = false
        }
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%dh%02dm", s / 3600, s % 3600 / 60)
            : s >= 60 ? String(format: "%dm%02ds", s / 60, s % 60) : "\(s)s"
    }
}
