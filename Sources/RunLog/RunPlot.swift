import Foundation

/// The picture of a run: loss, accuracy (or perplexity), learning rate and
/// throughput against step, drawn from `metrics.jsonl` records as one SVG.
public enum RunPlot {
    static let trainColor = "#1f6fb4"
    static let evalColors = ["#e4572e", "#7b4ea3", "#2e9e5b", "#b8860b"]
    static let learningRateColor = "#2e9e5b"
    static let throughputColor = "#7b4ea3"

    /// The four panels for `records`: loss (train and every evaluated split),
    /// accuracy in percent (perplexity for a model without accuracy),
    /// learning rate, and training throughput.
    ///
    /// - Parameter records: A run's records in file order.
    /// - Returns: The panels, in reading order.
    public static func panels(for records: [MetricsRecord]) -> [ChartPanel] {
        let train = records.filter { $0.kind == "train" }
        let evals = records.filter { $0.kind == "eval" }
        var splits: [String] = []
        for record in evals where !splits.contains(record.split ?? "validation") {
            splits.append(record.split ?? "validation")
        }
        func evalSeries(_ key: String, label: String, scale: Double = 1) -> [PlotSeries] {
            splits.enumerated().map { index, split in
                PlotSeries(name: "\(split) \(label)", color: evalColors[index % evalColors.count],
                           points: points(evals.filter { ($0.split ?? "validation") == split }, key, scale: scale),
                           markers: true)
            }
        }

        let loss = ChartPanel(title: "Loss", yLabel: "loss",
                              series: [PlotSeries(name: "train loss", color: trainColor, points: points(train, "loss"))]
                                  + evalSeries("loss", label: "loss"))
        let accuracySeries = [PlotSeries(name: "train accuracy", color: trainColor, points: points(train, "accuracy", scale: 100))]
            + evalSeries("accuracy", label: "accuracy", scale: 100)
        let second: ChartPanel
        if accuracySeries.contains(where: { !$0.points.isEmpty }) || !evals.contains(where: { $0.values["perplexity"] != nil }) {
            second = ChartPanel(title: "Accuracy", yLabel: "accuracy (%)", series: accuracySeries, legend: .bottomRight)
        } else {
            second = ChartPanel(title: "Perplexity", yLabel: "perplexity", series: evalSeries("perplexity", label: "perplexity"))
        }
        let learningRate = ChartPanel(title: "Learning rate", yLabel: "learning rate",
                                      series: [PlotSeries(name: "lr", color: learningRateColor, points: points(train, "lr"))])
        let throughput = ChartPanel(title: "Throughput", yLabel: "samples / s",
                                    series: [PlotSeries(name: "train samples/s", color: throughputColor,
                                                        points: points(train, "samples_per_second"))],
                                    legend: .bottomRight)
        return [loss, second, learningRate, throughput]
    }

    /// The points of field `key`. A run resumed from a checkpoint appends steps
    /// it had already logged; the later records replace the earlier ones from
    /// that step on, so the curve shows the run as it finally went.
    static func points(_ records: [MetricsRecord], _ key: String, scale: Double = 1) -> [PlotPoint] {
        var points: [PlotPoint] = []
        for record in records {
            guard let value = record.values[key], value.isFinite else { continue }
            let step = Double(record.step)
            if let last = points.last, step <= last.step {
                points.removeAll { $0.step >= step }
            }
            points.append(PlotPoint(step: step, value: value * scale))
        }
        return points
    }

    /// The SVG document of a run.
    ///
    /// - Parameters:
    ///   - records: The run's records in file order.
    ///   - title: The heading, usually the run directory's name.
    /// - Returns: A standalone SVG document.
    public static func svg(records: [MetricsRecord], title: String) -> String {
        let panels = panels(for: records)
        let margin = 20.0, panelWidth = 540.0, panelHeight = 330.0, header = 70.0
        let columns = 2, rows = (panels.count + columns - 1) / columns
        let width = margin + Double(columns) * (panelWidth + margin)
        let height = header + Double(rows) * (panelHeight + margin)
        var svg = SVGWriter(width: width, height: height)
        svg.rect(x: 0, y: 0, width: width, height: height, fill: "#f7f7f7")
        svg.text(title, x: margin, y: 36, size: 22, fill: "#111", extra: "font-weight=\"bold\" class=\"title\"")
        svg.text(summary(records), x: margin, y: 58, size: 13, fill: "#555", extra: "class=\"subtitle\"")

        let maxStep = records.map(\.step).max() ?? 0
        let steps = AxisScale(minimum: 0, maximum: Double(max(maxStep, 1)))
        for (index, panel) in panels.enumerated() {
            let x = margin + Double(index % columns) * (panelWidth + margin)
            let y = header + Double(index / columns) * (panelHeight + margin)
            panel.render(into: &svg, x: x, y: y, width: panelWidth, height: panelHeight, steps: steps)
        }
        return svg.document
    }

    /// One line on what the run reached: steps, the last train loss and the last evaluation.
    static func summary(_ records: [MetricsRecord]) -> String {
        guard let lastStep = records.map(\.step).max() else { return "no records yet" }
        var parts = ["\(lastStep) steps"]
        if let train = records.last(where: { $0.kind == "train" }) {
            if let epoch = train.values["epoch"] { parts.append(String(format: "epoch %.2f", epoch)) }
            if let loss = train.values["loss"] { parts.append(String(format: "train loss %.4f", loss)) }
        }
        if let eval = records.last(where: { $0.kind == "eval" }) {
            var text = "\(eval.split ?? "validation")"
            if let loss = eval.values["loss"] { text += String(format: " loss %.4f", loss) }
            if let accuracy = eval.values["accuracy"] { text += String(format: ", accuracy %.2f%%", accuracy * 100) }
            if let perplexity = eval.values["perplexity"] { text += String(format: ", perplexity %.3f", perplexity) }
            parts.append(text)
        }
        if let elapsed = records.last(where: { $0.kind == "train" })?.values["elapsed"] {
            parts.append(String(format: "%.1f s", elapsed))
        }
        return parts.joined(separator: "  ·  ")
    }
}
