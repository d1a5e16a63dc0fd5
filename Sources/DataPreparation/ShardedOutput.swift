import DataPipeline
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The output of one `ddp prepare` run: shards written into
/// `OUTPUT.partial/`, each followed by a small record of where the input
/// stood after it, so an interrupted run resumes after its last whole shard;
/// the manifest last, then one rename makes `OUTPUT` appear complete.
///
/// `Cursor` is the preparer's position in its input plus whatever it
/// accumulates (statistics, skipped files); it is saved with every shard.
final class ShardedOutput<Cursor: Codable & Equatable> {
    let output: String
    let partial: String
    /// The shards finished so far, in order.
    private(set) var shards: [PreparedManifest.Shard] = []
    /// Where the input stood after the last finished shard (nil before the first).
    private(set) var cursor: Cursor?
    /// A test hook: stop with an error once this many shards exist, as a killed run would.
    var stopAfterShards: Int?

    private struct Plan: Codable, Equatable {
        var inputs: [String: Int]
        var options: [String: String]
    }

    private struct Record: Codable {
        var shard: PreparedManifest.Shard
        var cursor: Cursor
    }

    /// Opens `output.partial`, resuming what a previous run with the same
    /// inputs and options left there.
    ///
    /// - Parameters:
    ///   - output: The data set directory to create.
    ///   - inputs: Every input file with its size: a changed input makes an old partial run unusable.
    ///   - options: The options that shape the output, likewise.
    /// - Throws: ``PrepareError`` when `output` exists, or the partial run was for other inputs.
    init(output: String, inputs: [String: Int], options: [String: String]) throws {
        self.output = output
        partial = output + ".partial"
        let manager = FileManager.default
        if manager.fileExists(atPath: output) {
            throw PrepareError.outputExists(output)
        }
        let planPath = partial + "/plan.json"
        let plan = Plan(inputs: inputs, options: options)
        if let data = manager.contents(atPath: planPath) {
            guard (try? JSONDecoder().decode(Plan.self, from: data)) == plan else {
                throw PrepareError.partialMismatch(partial)
            }
            resume()
        } else {
            do {
                try manager.createDirectory(atPath: partial, withIntermediateDirectories: true)
                try writeAtomically(JSONEncoder().encode(plan), to: planPath)
            } catch let error as PrepareError {
                throw error
            } catch {
                throw PrepareError.io(path: partial, reason: "\(error.localizedDescription)")
            }
        }
    }

    /// Picks up the shards whose records and files are intact, in order, stopping at the first gap.
    private func resume() {
        let decoder = JSONDecoder()
        var index = 0
        while let data = FileManager.default.contents(atPath: recordPath(index)),
              let record = try? decoder.decode(Record.self, from: data),
              fileSize(partial + "/" + record.shard.data.file) == record.shard.data.bytes,
              record.shard.labels.map({ fileSize(partial + "/" + $0.file) == $0.bytes }) ?? true {
            shards.append(record.shard)
            cursor = record.cursor
            index += 1
        }
    }

    /// The name of shard `index`'s data file; `suffix` is `bin` or `labels`.
    func fileName(_ index: Int, _ suffix: String) -> String {
        String(format: "shard-%05d.", index) + suffix
    }

    /// A writer for the next shard's file `suffix`.
    func writer(_ suffix: String) throws -> ShardFileWriter {
        try ShardFileWriter(directory: partial, name: fileName(shards.count, suffix))
    }

    /// Records a finished shard and where the input stands after it.
    func finish(_ shard: PreparedManifest.Shard, cursor: Cursor) throws {
        let path = recordPath(shards.count)
        do {
            try writeAtomically(JSONEncoder().encode(Record(shard: shard, cursor: cursor)), to: path)
        } catch {
            throw PrepareError.io(path: path, reason: "\(error.localizedDescription)")
        }
        shards.append(shard)
        self.cursor = cursor
        if let stop = stopAfterShards, shards.count >= stop {
            throw PrepareError.io(path: partial, reason: "stopped after \(shards.count) shards (test hook)")
        }
    }

    /// Writes the manifest, drops the bookkeeping, and renames the directory to `output`.
    func publish(_ manifest: PreparedManifest) throws {
        do {
            try writeAtomically(try manifest.encoded(), to: partial + "/" + PreparedManifest.fileName)
            for index in 0..<shards.count { try? FileManager.default.removeItem(atPath: recordPath(index)) }
            try? FileManager.default.removeItem(atPath: partial + "/plan.json")
            guard rename(partial, output) == 0 else {
                throw PrepareError.io(path: output, reason: String(cString: strerror(errno)))
            }
        } catch let error as PrepareError {
            throw error
        } catch {
            throw PrepareError.io(path: partial, reason: "\(error.localizedDescription)")
        }
    }

    private func recordPath(_ index: Int) -> String {
        partial + "/" + fileName(index, "json")
    }
}

/// Writes one file of a shard, hashing as it goes.
final class ShardFileWriter {
    let name: String
    let path: String
    private let fd: Int32
    private let hasher = SHA256()
    private(set) var bytes = 0
    private var buffer: [UInt8] = []

    init(directory: String, name: String) throws {
        self.name = name
        path = directory + "/" + name
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw PrepareError.io(path: path, reason: String(cString: strerror(errno))) }
        buffer.reserveCapacity(1 << 20)
    }

    deinit {
        close(fd)
    }

    func append<T>(_ values: UnsafeBufferPointer<T>) throws {
        try append(UnsafeRawBufferPointer(values))
    }

    func append(_ raw: UnsafeRawBufferPointer) throws {
        buffer.append(contentsOf: raw)
        bytes += raw.count
        if buffer.count >= 1 << 20 { try flush() }
    }

    /// Flushes, syncs and closes the file.
    func finish() throws -> PreparedManifest.FileEntry {
        try flush()
        guard fsync(fd) == 0 else { throw PrepareError.io(path: path, reason: String(cString: strerror(errno))) }
        return PreparedManifest.FileEntry(file: name, bytes: bytes, sha256: hasher.finalize())
    }

    private func flush() throws {
        try buffer.withUnsafeBytes { raw in
            hasher.update(raw)
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw PrepareError.io(path: path, reason: String(cString: strerror(errno)))
                }
                offset += n
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Writes `data` to `path` through a temporary file, synced, then renamed.
func writeAtomically(_ data: Data, to path: String) throws {
    let temporary = path + ".tmp"
    guard FileManager.default.createFile(atPath: temporary, contents: data) else {
        throw PrepareError.io(path: temporary, reason: "cannot be written")
    }
    let fd = open(temporary, O_RDONLY | O_CLOEXEC)
    if fd >= 0 {
        fsync(fd)
        close(fd)
    }
    guard rename(temporary, path) == 0 else { throw PrepareError.io(path: path, reason: String(cString: strerror(errno))) }
}

/// The size of the file at `path`, or -1.
func fileSize(_ path: String) -> Int {
    var info = stat()
    return stat(path, &info) == 0 ? Int(info.st_size) : -1
}
