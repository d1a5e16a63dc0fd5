import DataPipeline
import Foundation

/// `ddp prepare verify`: the checksums of a prepared data set, and for text
/// whether decoding its tokens gives back the corpus byte for byte.
public enum PreparedVerification {
    public struct Report: Sendable {
        /// Files whose SHA-256 matched the manifest.
        public var filesChecked: Int
        /// Bytes hashed.
        public var bytesChecked: Int
        /// For `against`: the corpus bytes compared with the decoded tokens.
        public var textBytesCompared: Int?
    }

    /// Verifies `directory`; with `against` (text only), decodes every token and compares with those inputs.
    ///
    /// - Throws: ``DataError/badPreparedData(file:reason:)`` naming the first file whose checksum or text differs.
    public static func verify(directory: String, against inputs: [String]? = nil, quiet: Bool = false) throws -> Report {
        let data = try PreparedData(directory: directory)
        let manifest = data.manifest
        var entries = manifest.shards.flatMap { [$0.data] + ($0.labels.map { [$0] } ?? []) }
        if let model = manifest.text?.tokenizer.model { entries.append(model) }
        let total = entries.reduce(0) { $0 + $1.bytes }
        let meter = ProgressMeter(total: total, label: "checksums", quiet: quiet)
        var done = 0
        for entry in entries {
            let path = directory + "/" + entry.file
            let (digest, bytes) = try hashFile(path) { meter.update(done + $0) }
            done += bytes
            guard digest == entry.sha256 else {
                throw DataError.badPreparedData(file: path, reason: "SHA-256 \(digest) is not the manifest's \(entry.sha256)")
            }
        }
        meter.finish()
        var report = Report(filesChecked: entries.count, bytesChecked: total, textBytesCompared: nil)
        guard let inputs else { return report }
        guard let text = manifest.text else {
            throw PrepareError.invalid("--against compares text; \(directory) holds \(manifest.kind.rawValue)")
        }
        let tokenizer: TextTokenizer
        if let characters = text.tokenizer.characters {
            tokenizer = CharacterTokenizer(try CharacterVocabulary(serialized: characters))
        } else {
            tokenizer = try SentencePieceTokenizer(path: directory + "/" + (text.tokenizer.model?.file ?? "tokenizer.model"))
        }
        let chunks = try wrapped { try TextChunks(inputs: inputs) }
        let windows = PreparedTokenWindows(data, range: 0..<manifest.count, contextLength: 1)
        // The corpus chunk by chunk against the decoded tokens, re-encoding each chunk to know how many
        // tokens it spans; a few chunks at a time on every core.
        var position = 0
        var compared = 0
        let textMeter = ProgressMeter(total: chunks.totalBytes, label: "text", quiet: quiet)
        var pending: [(text: String, at: TextChunks.Position)] = []
        let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
        func flush() throws {
            var counts = [Result<Int, Error>](repeating: .success(0), count: pending.count)
            counts.withUnsafeMutableBufferPointer { results in
                DispatchQueue.concurrentPerform(iterations: pending.count) { i in
                    results[i] = Result { try tokenizer.encode(pending[i].text, file: chunks.files[pending[i].at.file]).count }
                }
            }
            var starts: [Int] = []
            var next = position
            for count in counts {
                starts.append(next)
                next += try count.get()
            }
            guard next <= manifest.count else {
                throw DataError.badPreparedData(file: directory, reason: "holds fewer tokens than its inputs encode to")
            }
            var matches = [Bool](repeating: false, count: pending.count)
            matches.withUnsafeMutableBufferPointer { results in
                DispatchQueue.concurrentPerform(iterations: pending.count) { i in
                    let end = i + 1 < starts.count ? starts[i + 1] : next
                    let ids = (starts[i]..<end).map { Int32(windows.token($0)) }
                    results[i] = tokenizer.decode(ids) == pending[i].text
                }
            }
            if let bad = matches.firstIndex(of: false) {
                let end = bad + 1 < starts.count ? starts[bad + 1] : next
                throw DataError.badPreparedData(file: directory, reason: "tokens \(starts[bad])..<\(end) do not decode to "
                                                + "\(chunks.files[pending[bad].at.file]) from byte \(pending[bad].at.offset)")
            }
            position = next
            compared += pending.reduce(0) { $0 + $1.text.utf8.count }
            textMeter.update(compared)
            pending.removeAll()
        }
        try chunks.forEach { chunk, at, _ in
            pending.append((chunk, at))
            if pending.count == 2 * cores { try flush() }
            return true
        }
        try flush()
        textMeter.finish()
        guard position == manifest.count else {
            throw DataError.badPreparedData(file: directory, reason: "holds \(manifest.count - position) tokens more than the inputs encode to")
        }
        report.textBytesCompared = compared
        return report
    }
}

/// The SHA-256 and size of the file at `path`, read in 8 MB pieces.
///
/// - Parameter progress: Called with the bytes read so far.
func hashFile(_ path: String, progress: (Int) -> Void = { _ in }) throws -> (String, Int) {
    guard let handle = FileHandle(forReadingAtPath: path) else { throw DataError.fileNotFound(file: path) }
    defer { try? handle.close() }
    let hasher = SHA256()
    var bytes = 0
    while let data = try handle.read(upToCount: 8 << 20), !data.isEmpty {
        data.withUnsafeBytes { hasher.update($0) }
        bytes += data.count
        progress(bytes)
    }
    return (hasher.finalize(), bytes)
}
