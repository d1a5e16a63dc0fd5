import Foundation

/// Writes a `ddp launch:` line to standard output, in order with the ranks' output.
public func say(_ text: String) {
    print("ddp launch: \(text)")
    fflush(stdout)
}
