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
        for b in 0..<batch {
            for t in 0..<time {
                let row = b * time + t
                let o = out + row * channels
                let e = wte + Int(tokens[row]) * channels
                let p = wpe + t * channels
                for c in 0..<channels { o[c] = e[c] + p[c] }
            }
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
        for b in 0..<batch {
            for t in 0..<time {
                let row = b * time + t
                let d = dout + row * channels
                let e = dwte + Int(tokens[row]) * channels
                let p = dwpe + t * channels
                for c in 0..<channels {
                    e[c] += d[c]
                    p[c] += d[c]
                }
            }
        }
    }
}
