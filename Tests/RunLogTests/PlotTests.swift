import DDPTestSupport
import Foundation
@testable import RunLog
import XCTest

/// `metrics.jsonl` read back, and the SVG drawn from it.
final class PlotTests: ScratchTestCase {
    override class var scratchPrefix: String { "ddp-observe" }

    /// Train records every 10 steps to 100 (loss 2/step·10, accuracy step/100) and validation records every 50.
    static func syntheticMetrics() -> String {
        var lines: [String] = []
        for step in stride(from: 10, through: 100, by: 10) {
            lines.append("{\"kind\":\"train\",\"step\":\(step),\"epoch\":\(Double(step) / 50),\"loss\":\(20.0 / Double(step)),"
                         + "\"accuracy\":\(Double(step) / 100),\"lr\":\(0.1 - Double(step) / 2000),"
                         + "\"samples_per_second\":\(1000 + step),\"elapsed\":\(Double(step) / 10)}")
            if step % 50 == 0 {
                lines.append("{\"kind\":\"eval\",\"split\":\"validation\",\"step\":\(step),\"loss\":\(30.0 / Double(step)),"
                             + "\"accuracy\":\(Double(step) / 110),\"samples\":500}")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private func write(_ text: String, name: String = "metrics.jsonl") throws -> URL {
        let url = scratch.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// The `points` of the polyline whose `data-series` is `name`, as (x, y) pairs.
    static func polyline(_ name: String, in svg: String) -> [(x: Double, y: Double)]? {
        guard let start = svg.range(of: "data-series=\"\(name)\"") else { return nil }
        let rest = svg[start.upperBound...]
        guard let open = rest.range(of: "points=\""), let close = rest[open.upperBound...].firstIndex(of: "\"") else { return nil }
        return rest[open.upperBound..<close].split(separator: " ").map { pair in
            let xy = pair.split(separator: ",").map { Double($0)! }
            return (xy[0], xy[1])
        }
    }

    func testReadsRecordsInOrder() throws {
        let records = try MetricsFile.read(try write(Self.syntheticMetrics()))
        XCTAssertEqual(records.count, 12)
        XCTAssertEqual(records.filter { $0.kind == "train" }.map(\.step), Array(stride(from: 10, through: 100, by: 10)))
        XCTAssertEqual(records[5].kind, "eval")
        XCTAssertEqual(records[5].split, "validation")
        XCTAssertEqual(records[5].step, 50)
        XCTAssertEqual(Set(records[5].values.keys), ["loss", "accuracy", "samples"])
        XCTAssertEqual(records[5].values["accuracy"] ?? 0, 50.0 / 110, accuracy: 1e-12)
        XCTAssertEqual(records[0].values["samples_per_second"], 1010)
    }

    func testSyntheticRunDrawsEveryCurveWithLegendAndTitle() throws {
        let records = try MetricsFile.read(try write(Self.syntheticMetrics()))
        let svg = RunPlot.svg(records: records, title: "mnist <run> & co")
        XCTAssertTrue(svg.hasPrefix("<?xml"), String(svg.prefix(80)))
        XCTAssertTrue(svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        XCTAssertTrue(svg.contains(">mnist &lt;run&gt; &amp; co</text>"), "the title is escaped")
        for title in ["Loss", "Accuracy", "Learning rate", "Throughput"] {
            XCTAssertTrue(svg.contains(">\(title)</text>"), title)
        }
        for (series, count) in [("train loss", 10), ("validation loss", 2), ("train accuracy", 10),
                                ("validation accuracy", 2), ("lr", 10), ("train samples/s", 10)] {
            XCTAssertEqual(Self.polyline(series, in: svg)?.count, count, series)
            XCTAssertTrue(svg.contains("class=\"legend-label\">\(series)</text>"), "legend entry \(series)")
        }
        XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 6)

        // Steps grow to the right; a falling loss rises on the page (SVG y grows downwards).
        let loss = try XCTUnwrap(Self.polyline("train loss", in: svg))
        XCTAssertEqual(loss.map(\.x), loss.map(\.x).sorted())
        XCTAssertEqual(loss.map(\.y), loss.map(\.y).sorted(), "loss 2.0 → 0.2 is drawn top to bottom")
        let accuracy = try XCTUnwrap(Self.polyline("train accuracy", in: svg))
        XCTAssertEqual(accuracy.map(\.y), accuracy.map(\.y).sorted(by: >))
        // The validation points sit at the same x as the train points of the same step.
        let validation = try XCTUnwrap(Self.polyline("validation loss", in: svg))
        XCTAssertEqual(validation[0].x, loss[4].x, accuracy: 0.01)
        XCTAssertEqual(validation[1].x, loss[9].x, accuracy: 0.01)
        XCTAssertTrue(svg.contains("100 steps"), "the subtitle names the last step")
        XCTAssertTrue(svg.contains("accuracy (%)"))
    }

    func testPanelsScaleAccuracyAndKeepTheLatestAttemptAfterAResume() throws {
        var text = Self.syntheticMetrics()
        // Resumed from a checkpoint at step 60: steps 70...100 are logged again with other values.
        for step in stride(from: 70, through: 100, by: 10) {
            text += "{\"kind\":\"train\",\"step\":\(step),\"loss\":\(Double(step) / 1000),\"lr\":0.01}\n"
        }
        let panels = RunPlot.panels(for: try MetricsFile.read(try write(text)))
        let loss = try XCTUnwrap(panels[0].series.first { $0.name == "train loss" })
        XCTAssertEqual(loss.points.map(\.step), Array(stride(from: 10.0, through: 100, by: 10)))
        XCTAssertEqual(loss.points.last?.value, 0.1, "the resumed attempt replaces the first one from step 70 on")
        XCTAssertEqual(loss.points[5].value, 20.0 / 60, "points before the resume stay")
        let accuracy = try XCTUnwrap(panels[1].series.first { $0.name == "train accuracy" })
        for (point, expected) in zip(accuracy.points, stride(from: 10.0, through: 100, by: 10)) {
            XCTAssertEqual(point.value, expected, accuracy: 1e-9, "accuracy in percent")
        }
    }

    func testLanguageModelGetsAPerplexityPanel() throws {
        let text = """
            {"kind":"train","step":5,"epoch":0.1,"loss":3.5,"lr":0.001,"samples_per_second":100,"elapsed":1}
            {"kind":"eval","split":"validation","step":5,"loss":3.4,"perplexity":29.96,"samples":64}
            {"kind":"train","step":10,"epoch":0.2,"loss":null,"lr":0.001,"samples_per_second":100,"elapsed":2}
            """
        let records = try MetricsFile.read(try write(text))
        XCTAssertNil(records[2].values["loss"], "null (a non-finite loss) is left out")
        let panels = RunPlot.panels(for: records)
        XCTAssertEqual(panels[1].title, "Perplexity")
        XCTAssertEqual(panels[1].drawnSeries.map(\.name), ["validation perplexity"])
        let svg = RunPlot.svg(records: records, title: "gpt")
        XCTAssertEqual(Self.polyline("train loss", in: svg)?.count, 1)
        XCTAssertTrue(svg.contains("perplexity 29.960"), "the subtitle reports the last evaluation")
    }

    func testEmptyFileDrawsEmptyPanels() throws {
        let svg = RunPlot.svg(records: try MetricsFile.read(try write("")), title: "new")
        XCTAssertEqual(svg.components(separatedBy: ">no data</text>").count - 1, 4)
        XCTAssertTrue(svg.contains("no records yet"))
        XCTAssertFalse(svg.contains("<polyline"))
    }

    func testMalformedLinesNameTheFileAndLine() throws {
        let good = "{\"kind\":\"train\",\"step\":1,\"loss\":1}\n"
        let cases: [(String, String)] = [
            ("{\"kind\":\"train\",\"step\":2,\"loss\":", "not valid JSON"),
            ("[1, 2]", "expected a JSON object"),
            ("{\"step\":2,\"loss\":1}", "missing the string field \"kind\""),
            ("{\"kind\":\"train\",\"loss\":1}", "missing the non-negative integer field \"step\""),
            ("{\"kind\":\"train\",\"step\":2.5}", "missing the non-negative integer field \"step\""),
            ("{\"kind\":\"train\",\"step\":2,\"loss\":[1]}", "field \"loss\" is neither a number, a string nor null"),
        ]
        for (line, reason) in cases {
            let url = try write(good + "\n" + line + "\n" + good)
            XCTAssertThrowsError(try MetricsFile.read(url), line) { error in
                guard case .malformed(let path, let number, let message)? = error as? MetricsFileError else {
                    return XCTFail("\(error)")
                }
                XCTAssertEqual(path, url.path)
                XCTAssertEqual(number, 3, "blank lines count, so the number matches an editor's")
                XCTAssertTrue(message.hasPrefix(reason), message)
                XCTAssertTrue("\(error)".hasPrefix("\(url.path):3: "), "\(error)")
            }
        }
    }

    func testMissingFileIsNamed() {
        let url = scratch.appendingPathComponent("nowhere/metrics.jsonl")
        XCTAssertThrowsError(try MetricsFile.read(url)) { error in
            XCTAssertEqual(error as? MetricsFileError, .missing(path: url.path))
            XCTAssertTrue("\(error)".contains("no such file"), "\(error)")
        }
        XCTAssertThrowsError(try MetricsFile.read(scratch), "a directory is not a metrics file")
    }

    func testAxisScaleChoosesRoundTicks() {
        let steps = AxisScale(minimum: 0, maximum: 468)
        XCTAssertEqual(steps.ticks, [0, 100, 200, 300, 400, 500])
        XCTAssertEqual(steps.ticks.map(steps.label), ["0", "100", "200", "300", "400", "500"])

        let loss = AxisScale(minimum: 0.0795, maximum: 0.806)
        XCTAssertEqual(loss.lower, 0)
        XCTAssertEqual(loss.upper, 1, accuracy: 1e-12)
        XCTAssertEqual(loss.ticks.map(loss.label), ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])

        let throughput = AxisScale(minimum: 6022, maximum: 10_010)
        XCTAssertEqual(throughput.ticks.map(throughput.label), ["6k", "7k", "8k", "9k", "10k", "11k"])

        let flat = AxisScale(minimum: 0.05, maximum: 0.05)
        XCTAssertLessThan(flat.lower, 0.05)
        XCTAssertGreaterThan(flat.upper, 0.05)

        let tiny = AxisScale(minimum: 0, maximum: 3e-5)
        XCTAssertEqual(tiny.label(2e-5), "2.0e-05")
        XCTAssertEqual(tiny.fraction(of: tiny.upper), 1)
    }
}
