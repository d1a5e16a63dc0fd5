import DataPipeline
import Foundation

/// The input files of a text preparation read as a sequence of chunks of
/// whole lines (at most ``chunkBytes`` each, cut after a newline, or at a
/// character boundary for a longer line): chunks are the unit of
/// tokenization, so where one starts is a resumable position.
struct TextChunks {
    static let chunkBytes = 4 << 20

    /// A place in the input: file `file`, byte `offset`.
    struct Position: Codable, Equatable {
        var file: Int
        var offset: Int
    }

    let files: [String]
    let sizes: [Int]

    /// Every regular file under `inputs` (a directory is read recursively,
    /// hidden names skipped), sorted by path within each input.
    ///
    /// - Throws: ``DataError/fileNotFound(file:)`` for a missing input, ``PrepareError/invalid(_:)`` when there is no text.
    init(inputs: [String]) throws {
        var files: [String] = []
        let manager = FileManager.default
        for input in inputs {
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: input, isDirectory: &isDirectory) else { throw DataError.fileNotFound(file: input) }
            if !isDirectory.boolValue {
                files.append(input)
                continue
            }
            files += try regularFiles(under: input)
        }
        self.files = files
        sizes = files.map(fileSize)
        guard sizes.reduce(0, +) > 0 else { throw PrepareError.invalid("no text in \(inputs.joined(separator: ", "))") }
    }

    var totalBytes: Int { sizes.reduce(0, +) }

    /// Bytes before `position`, for progress.
    func bytesBefore(_ position: Position) -> Int {
        sizes.prefix(position.file).reduce(0, +) + position.offset
    }

    /// Calls `body` with each chunk's text and its position, from `start` on;
    /// `body` returns false to stop.
    ///
    /// - Throws: ``DataError`` naming the file that cannot be read or is not UTF-8.
    func forEach(from start: Position = Position(file: 0, offset: 0),
                 _ body: (String, Position, _ next: Position) throws -> Bool) throws {
        var position = start
        while position.file < files.count {
            let path = files[position.file]
            guard let handle = FileHandle(forReadingAtPath: path) else { throw DataError.unreadable(file: path, reason: "cannot be opened") }
            defer { try? handle.close() }
            let size = sizes[position.file]
            while position.offset < size {
                try handle.seek(toOffset: UInt64(position.offset))
                let data = try handle.read(upToCount: Self.chunkBytes) ?? Data()
                guard !data.isEmpty else { throw DataError.truncated(file: path, expected: size, actual: position.offset) }
                var bytes = [UInt8](data)
                if position.offset + bytes.count < size {
                    if let newline = bytes.lastIndex(of: 0x0A) {
                        bytes.removeSubrange((newline + 1)...)
                    } else {
                        // One line longer than a chunk: cut before a UTF-8 continuation byte run.
                        var cut = bytes.count
                        while cut > 0 && bytes[cut - 1] & 0xC0 == 0x80 { cut -= 1 }
                        if cut > 0 && bytes[cut - 1] >= 0xC0 { cut -= 1 }
                        bytes.removeSubrange(max(cut, 1)...)
                    }
                }
                guard let text = String(validating: bytes, as: UTF8.self) else {
                    throw DataError.unreadable(file: path, reason: "not valid UTF-8 within bytes \(position.offset)..<\(position.offset + bytes.count)")
                }
                let here = position
                position.offset += bytes.count
                let next = position.offset < size ? position : Position(file: position.file + 1, offset: 0)
                guard try body(text, here, next) else { return }
            }
            position = Position(file: position.file + 1, offset: 0)
        }
    }
}
