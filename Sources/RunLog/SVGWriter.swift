import Foundation

/// Builds an SVG document as text; numbers are written with two decimals,
/// plenty at screen resolution and far smaller than full precision.
struct SVGWriter {
    private(set) var body = ""
    let width: Double
    let height: Double

    init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }

    /// The finished document.
    var document: String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Self.number(width))" height="\(Self.number(height))" \
        viewBox="0 0 \(Self.number(width)) \(Self.number(height))" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">
        \(body)</svg>

        """
    }

    mutating func raw(_ text: String) {
        body += text
        body += "\n"
    }

    mutating func rect(x: Double, y: Double, width: Double, height: Double, fill: String,
                       stroke: String? = nil, extra: String = "") {
        var text = "<rect x=\"\(Self.number(x))\" y=\"\(Self.number(y))\" width=\"\(Self.number(width))\" "
            + "height=\"\(Self.number(height))\" fill=\"\(fill)\""
        if let stroke { text += " stroke=\"\(stroke)\"" }
        raw(text + (extra.isEmpty ? "" : " " + extra) + "/>")
    }

    mutating func line(x1: Double, y1: Double, x2: Double, y2: Double, stroke: String, width: Double = 1,
                       extra: String = "") {
        raw("<line x1=\"\(Self.number(x1))\" y1=\"\(Self.number(y1))\" x2=\"\(Self.number(x2))\" "
            + "y2=\"\(Self.number(y2))\" stroke=\"\(stroke)\" stroke-width=\"\(Self.number(width))\""
            + (extra.isEmpty ? "" : " " + extra) + "/>")
    }

    mutating func text(_ content: String, x: Double, y: Double, size: Double, anchor: String = "start",
                       fill: String = "#222", extra: String = "") {
        raw("<text x=\"\(Self.number(x))\" y=\"\(Self.number(y))\" font-size=\"\(Self.number(size))\" "
            + "text-anchor=\"\(anchor)\" fill=\"\(fill)\"" + (extra.isEmpty ? "" : " " + extra)
            + ">\(Self.escape(content))</text>")
    }

    static func number(_ value: Double) -> String {
        let text = String(format: "%.2f", value)
        if text.hasSuffix(".00") { return String(text.dropLast(3)) }
        if text.hasSuffix("0") { return String(text.dropLast()) }
        return text
    }

    /// `text` safe inside an element or a double-quoted attribute.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}
