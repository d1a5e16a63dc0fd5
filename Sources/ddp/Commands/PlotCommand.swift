import ArgumentParser
import Foundation
import RunLog
import Training

/// `ddp plot`: a run's curves as one picture a person opens.
struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Draw a run's loss, accuracy and learning-rate curves from its metrics.jsonl as an SVG (and PNG).",
        discussion: """
            Writes RUN_DIR/plot.svg, and RUN_DIR/plot.png when rsvg-convert or ImageMagick's \
            convert is installed. Works on a run still in progress.

            For live curves, the run directory also holds a TensorBoard event file:
              tensorboard --logdir RUN_DIR
            """
    )

    @Argument(help: "The run directory (holding metrics.jsonl).")
    var runDirectory: String

    @Option(name: .long, help: "The SVG to write; default RUN_DIR/plot.svg. A PNG goes next to it.")
    var out: String?

    func run() throws {
        try exitOnUserError {
            let directory = URL(fileURLWithPath: runDirectory).standardizedFileURL
            let records = try MetricsFile.read(directory.appendingPathComponent(MetricsLog.fileName))
            let svg = RunPlot.svg(records: records, title: directory.lastPathComponent)
            let svgURL = out.map { URL(fileURLWithPath: $0) } ?? directory.appendingPathComponent("plot.svg")
            do {
                try Data(svg.utf8).write(to: svgURL, options: .atomic)
            } catch {
                throw RunLogError.cannotWrite(svgURL.path)
            }
            print("ddp: wrote \(svgURL.path) (\(records.count) records)")
            let pngURL = svgURL.deletingPathExtension().appendingPathExtension("png")
            if let converter = PlotRasterizer.convert(svg: svgURL, to: pngURL) {
                print("ddp: wrote \(pngURL.path) (with \(converter))")
            } else {
                print("ddp: no PNG: install rsvg-convert (librsvg2-bin) or ImageMagick for one")
            }
        }
    }
}
