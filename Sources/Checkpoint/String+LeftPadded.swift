extension String {
    /// The string with `pad` in front up to `width` characters: fixed-width
    /// step numbers and hex digests in file names and headers.
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
