import Foundation

/// Turns an SVG into a PNG with whichever converter the machine has,
/// `rsvg-convert` (librsvg) first, then ImageMagick's `convert`.
public enum PlotRasterizer {
    /// The converters tried, in order, with their arguments for (input, output).
    static let converters: [(name: String, arguments: (String, String) -> [String])] = [
        ("rsvg-convert", { input, output in ["--background-color", "white", "-o", output, input] }),
        ("convert", { input, output in ["-background", "white", "-density", "96", input, output] }),
    ]

    /// Writes `png` from `svg` with the first converter that succeeds.
    ///
    /// - Parameters:
    ///   - svg: The SVG file.
    ///   - png: Where the PNG goes.
    /// - Returns: The converter's name, or `nil` when none is installed or all failed
    ///   (a PNG is a convenience; the SVG is the result).
    @discardableResult
    public static func convert(svg: URL, to png: URL) -> String? {
        for converter in converters {
            guard let executable = findExecutable(converter.name) else { continue }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = converter.arguments(svg.path, png.path)
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            do {
                try process.run()
                process.waitUntilExit()
            } catch {
                continue
            }
            if process.terminationStatus == 0, isPNG(png) { return converter.name }
            try? FileManager.default.removeItem(at: png)
        }
        return nil
    }

    /// The path of `name` on `PATH`, if any.
    static func findExecutable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    // A converter can exit 0 yet write something else (a stand-in, an error page).
    private static func isPNG(_ url: URL) -> Bool {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return false }
        defer { try? handle.close() }
        let signature = handle.readData(ofLength: 8)
        return signature == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    }
}
