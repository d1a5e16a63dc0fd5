extension GPTKernels {
    /// Token plus position embedding: `out[b, t, :] = wte[tokens[b, t], :] + wpe[t, :]`.
    ///
    /// - Parameters:
    ///   - out: `[batch, time, channels]`, overwritten.
    ///   - tokens: `[batch, time]` token ids, each in `0..<vocab` rows of `wte`.
    ///   - wte: `[vocab, channels]` token embedding.
    ///   - wpe: `[≥ time, channels]` position embedding.
    public static func encoderForward(
        out: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Int32>,
        wte: UnsafePointer<Float>, wpe: UnsafePointer<Float>,
        batch: Int, time: Int, channels: Int
    ) {
        // Row `row` is position `row % time` of its sequence.
        for row in 0..<batch * time {
            let (o, e, p) = (out + row * channels, wte + Int(tokens[row]) * channels, wpe + row % time * channels)
            for c in 0..<channels { o[c] = e[c] + p[c] }
        }
    }

    /// Scatters `dout` into the rows of both embeddings that forward read.
    ///
    /// - Parameters:
    ///   - dwte: `[vocab, channels]`, accumulated.
    ///   - dwpe: `[≥ time, channels]`, accumulated.
    ///   - dout: `[batch, time, channels]`.
    ///   - tokens: The ids forward used.
    public static func encoderBackward(
        dwte: UnsafeMutablePointer<Float>, dwpe: UnsafeMutablePointer<Float>,
        dout: UnsafePointer<Float>, tokens: UnsafePointer<Int32>,
        batch: Int, time: Int, channels: Int
    ) {
        for (row, token) in UnsafeBufferPointer(start: tokens, count: batch * time).enumerated() {
            let (d, e, p) = (dout + row * channels, dwte + Int(token) * channels, dwpe + row % time * channels)
            for c in 0..<channels {
                e[c] += d[c]
                p[c] += d[c]
            }
        }
    }
}
