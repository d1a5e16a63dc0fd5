import Foundation

/// The common classification body, `{"inputs": [[n, ...], ...]}` with an
/// optional `"top_k": k`, read straight from its bytes into the values.
///
/// `JSONSerialization` builds an `NSNumber` per value and the parser casts
/// each back; for a 784-pixel image that was most of a request's cost in
/// `ddp serve` (docs/benchmarks.md). This scanner accepts only that shape
/// in strict JSON (keys without escapes, numbers by JSON's grammar) and
/// returns nil for anything else, which then takes the general path, so every
/// error message still comes from there.
struct NumericBodyScanner {
    private let bytes: UnsafeRawBufferPointer
    private var at = 0

    private init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// The rows of `inputs` flattened, their count, and `top_k` if given;
    /// nil unless `body` is exactly that shape.
    static func scan(_ body: Data) -> (values: [Double], rows: [Int], topK: Int?)? {
        body.withUnsafeBytes { raw in
            var scanner = NumericBodyScanner(raw)
            return scanner.object()
        }
    }

    private mutating func object() -> (values: [Double], rows: [Int], topK: Int?)? {
        guard take(UInt8(ascii: "{")) else { return nil }
        var values: [Double] = [], rows: [Int] = [], topK: Int?, sawInputs = false
        repeat {
            guard let key = key(), take(UInt8(ascii: ":")) else { return nil }
            switch key {
            case "inputs" where !sawInputs:
                sawInputs = true
                guard samples(into: &values, rows: &rows) else { return nil }
            case "top_k" where topK == nil:
                guard let number = number(), let k = Int(exactly: number) else { return nil }
                topK = k
            default:
                return nil
            }
        } while take(UInt8(ascii: ","))
        guard take(UInt8(ascii: "}")), sawInputs else { return nil }
        skipSpace()
        return at == bytes.count ? (values, rows, topK) : nil
    }

    /// `[[n, ...], ...]`: each sample's count goes to `rows`.
    private mutating func samples(into values: inout [Double], rows: inout [Int]) -> Bool {
        guard take(UInt8(ascii: "[")) else { return false }
        if take(UInt8(ascii: "]")) { return true }
        repeat {
            guard take(UInt8(ascii: "[")) else { return false }
            let start = values.count
            if !take(UInt8(ascii: "]")) {
                repeat {
                    guard let x = number() else { return false }
                    values.append(x)
                } while take(UInt8(ascii: ","))
                guard take(UInt8(ascii: "]")) else { return false }
            }
            rows.append(values.count - start)
        } while take(UInt8(ascii: ","))
        return take(UInt8(ascii: "]"))
    }

    /// A key of plain characters (an escape sends the body the general way).
    private mutating func key() -> String? {
        guard take(UInt8(ascii: "\"")) else { return nil }
        let start = at
        while at < bytes.count, bytes[at] != UInt8(ascii: "\""), bytes[at] != UInt8(ascii: "\\"), bytes[at] >= 0x20 { at += 1 }
        guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { return nil }
        defer { at += 1 }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self)
    }

    /// A number by JSON's grammar, `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`,
    /// converted as `Double(String)` converts it (correctly rounded).
    private mutating func number() -> Double? {
        skipSpace()
        let start = at
        func digits() -> Int {
            let first = at
            while at < bytes.count, bytes[at] >= UInt8(ascii: "0"), bytes[at] <= UInt8(ascii: "9") { at += 1 }
            return at - first
        }
        if at < bytes.count, bytes[at] == UInt8(ascii: "-") { at += 1 }
        let integerStart = at
        let integerDigits = digits()
        guard integerDigits > 0, integerDigits == 1 || bytes[integerStart] != UInt8(ascii: "0") else { return nil }
        var isInteger = true
        if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
            at += 1
            guard digits() > 0 else { return nil }
            isInteger = false
        }
        if at < bytes.count, bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") {
            at += 1
            if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
            guard digits() > 0 else { return nil }
            isInteger = false
        }
        // Short integers (pixels) directly; anything else through the standard conversion.
        if isInteger && integerDigits <= 9 {
            var value = 0
            for i in integerStart..<at { value = value * 10 + Int(bytes[i] - UInt8(ascii: "0")) }
            return Double(bytes[start] == UInt8(ascii: "-") ? -value : value)
        }
        return Double(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self))
    }

    /// Skips whitespace, then takes `byte` if it is next.
    private mutating func take(_ byte: UInt8) -> Bool {
        skipSpace()
        guard at < bytes.count, bytes[at] == byte else { return false }
        at += 1
        return true
    }

    private mutating func skipSpace() {
        while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x0A || bytes[at] == 0x0D || bytes[at] == 0x09 { at += 1 }
    }
}
