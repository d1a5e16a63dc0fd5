/// A point of a plotted series.
public struct PlotPoint: Equatable, Sendable {
    public var step: Double
    public var value: Double

    public init(step: Double, value: Double) {
        self.step = step
        self.value = value
    }
}

/// One line on a chart, e.g. the training loss.
public struct PlotSeries: Equatable, Sendable {
    /// The legend entry, also written as the polyline's `data-series` attribute.
    public var name: String
    /// An SVG colour.
    public var color: String
    public var points: [PlotPoint]
    /// Circles on the points, for sparse series such as evaluations.
    public var markers: Bool

    public init(name: String, color: String, points: [PlotPoint], markers: Bool = false) {
        (self.name, self.color, self.points, self.markers) = (name, color, points, markers)
    }
}

/// One chart of a run plot: a title, a y axis and the series drawn against step.
public struct ChartPanel: Equatable, Sendable {
    /// Where the legend goes when it does not fit beside the title.
    public enum LegendPlacement: Sendable {
        /// For falling curves (loss), which leave the upper right empty.
        case topRight
        /// For rising curves (accuracy).
        case bottomRight
    }

    public var title: String
    public var yLabel: String
    /// Series without points are left out of the chart and the legend.
    public var series: [PlotSeries]
    public var legend: LegendPlacement

    public init(title: String, yLabel: String, series: [PlotSeries], legend: LegendPlacement = .topRight) {
        (self.title, self.yLabel, self.series, self.legend) = (title, yLabel, series, legend)
    }

    /// The series that have something to draw.
    public var drawnSeries: [PlotSeries] { series.filter { !$0.points.isEmpty } }

    /// Draws the panel into the rectangle at (`x`, `y`) of `width` × `height`.
    func render(into svg: inout SVGWriter, x: Double, y: Double, width: Double, height: Double, steps: AxisScale) {
        let left = x + 68, right = x + width - 18, top = y + 40, bottom = y + height - 46
        let plotWidth = right - left, plotHeight = bottom - top
        svg.rect(x: x, y: y, width: width, height: height, fill: "#ffffff", stroke: "#d9d9d9", extra: "rx=\"6\"")
        svg.text(title, x: left, y: y + 25, size: 15, extra: "font-weight=\"bold\"")

        let shown = drawnSeries
        let values = shown.flatMap { $0.points.map(\.value) }
        let scale = AxisScale(minimum: values.min() ?? 0, maximum: values.max() ?? 1)
        func px(_ step: Double) -> Double { left + steps.fraction(of: step) * plotWidth }
        func py(_ value: Double) -> Double { bottom - scale.fraction(of: value) * plotHeight }

        for tick in scale.ticks {
            svg.line(x1: left, y1: py(tick), x2: right, y2: py(tick), stroke: "#ebebeb")
            svg.text(scale.label(tick), x: left - 8, y: py(tick) + 4, size: 11, anchor: "end", fill: "#555",
                     extra: "class=\"y-tick\"")
        }
        for tick in steps.ticks {
            svg.line(x1: px(tick), y1: top, x2: px(tick), y2: bottom, stroke: "#f2f2f2")
            svg.line(x1: px(tick), y1: bottom, x2: px(tick), y2: bottom + 5, stroke: "#666")
            svg.text(steps.label(tick), x: px(tick), y: bottom + 18, size: 11, anchor: "middle", fill: "#555",
                     extra: "class=\"x-tick\"")
        }
        svg.line(x1: left, y1: bottom, x2: right, y2: bottom, stroke: "#666")
        svg.line(x1: left, y1: top, x2: left, y2: bottom, stroke: "#666")
        svg.text("step", x: (left + right) / 2, y: bottom + 38, size: 12, anchor: "middle", fill: "#333")
        let labelX = x + 16, labelY = (top + bottom) / 2
        svg.text(yLabel, x: labelX, y: labelY, size: 12, anchor: "middle", fill: "#333",
                 extra: "transform=\"rotate(-90 \(SVGWriter.number(labelX)) \(SVGWriter.number(labelY)))\"")

        guard !shown.isEmpty else {
            svg.text("no data", x: (left + right) / 2, y: (top + bottom) / 2, size: 14, anchor: "middle", fill: "#999")
            return
        }
        for series in shown {
            let points = series.points.map { "\(SVGWriter.number(px($0.step))),\(SVGWriter.number(py($0.value)))" }
            svg.raw("<polyline class=\"series\" data-series=\"\(SVGWriter.escape(series.name))\" fill=\"none\" "
                    + "stroke=\"\(series.color)\" stroke-width=\"2\" stroke-linejoin=\"round\" stroke-linecap=\"round\" "
                    + "points=\"\(points.joined(separator: " "))\"/>")
            if series.markers || series.points.count == 1 {
                for point in series.points {
                    svg.raw("<circle cx=\"\(SVGWriter.number(px(point.step)))\" cy=\"\(SVGWriter.number(py(point.value)))\" "
                            + "r=\"3.5\" fill=\"#ffffff\" stroke=\"\(series.color)\" stroke-width=\"2\"/>")
                }
            }
        }
        renderLegend(shown, into: &svg, left: left, right: right, top: top, bottom: bottom)
    }

    private func renderLegend(_ shown: [PlotSeries], into svg: inout SVGWriter,
                              left: Double, right: Double, top: Double, bottom: Double) {
        // DejaVu Sans at 12 px averages about 7 px per character.
        let entryWidths = shown.map { 40 + 7 * Double($0.name.count) }
        // The bold 15 px title takes about 9 px per character.
        let headerSpace = right - (left + 9 * Double(title.count) + 24)
        if entryWidths.reduce(0, +) <= headerSpace {
            // Beside the title the legend never hides a curve.
            var entryX = right - entryWidths.reduce(0, +)
            for (series, entryWidth) in zip(shown, entryWidths) {
                legendEntry(series, into: &svg, x: entryX, y: top - 19)
                entryX += entryWidth
            }
            return
        }
        let rowHeight = 18.0
        let boxWidth = 40 + 7 * Double(shown.map(\.name.count).max() ?? 0)
        let boxHeight = rowHeight * Double(shown.count) + 8
        let boxX = right - boxWidth - 8
        let boxY = legend == .topRight ? top + 8 : bottom - boxHeight - 8
        svg.rect(x: boxX, y: boxY, width: boxWidth, height: boxHeight, fill: "#ffffff", stroke: "#cccccc",
                 extra: "fill-opacity=\"0.9\" rx=\"3\" class=\"legend\"")
        for (row, series) in shown.enumerated() {
            legendEntry(series, into: &svg, x: boxX + 8, y: boxY + 4 + rowHeight * (Double(row) + 0.5))
        }
    }

    /// A line sample (with a marker for marked series) and the series name, centred on `y`.
    private func legendEntry(_ series: PlotSeries, into svg: inout SVGWriter, x: Double, y: Double) {
        svg.line(x1: x, y1: y, x2: x + 20, y2: y, stroke: series.color, width: 2.5)
        if series.markers {
            svg.raw("<circle cx=\"\(SVGWriter.number(x + 10))\" cy=\"\(SVGWriter.number(y))\" r=\"3.5\" "
                    + "fill=\"#ffffff\" stroke=\"\(series.color)\" stroke-width=\"2\"/>")
        }
        svg.text(series.name, x: x + 26, y: y + 4, size: 12, fill: "#222", extra: "class=\"legend-label\"")
    }
}
