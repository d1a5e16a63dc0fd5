import Foundation
import _ProtobufWire

/// Writes scalar summaries to a TensorBoard event file,
/// `events.out.tfevents.<unix time>.<hostname>` in a run directory, so
/// `tensorboard --logdir RUN_DIR` shows the run's curves.
///
/// Each record is a hand-encoded `Event` protocol buffer in TFRecord framing;
/// the first carries `file_version = "brain.Event:2"`, which TensorBoard
/// requires before it trusts the file. Records go straight to the file
/// descriptor, so each is on disk (in the page cache) when the call returns and
/// a reader polling the file sees it at once.
public final class TensorBoardEventWriter {
    /// The event file.
    public let url: URL
    /// The first write error; after it the writer drops records (see ``record(_:)``).
    public private(set) var failure: RunLogError?

    private let handle: FileHandle
    // Reused for every record, so logging does not allocate once warmed up.
    private var event = ProtobufEncoder()
    private var framed: [UInt8] = []

    /// Creates the event file in `directory` and writes its version record.
    ///
    /// - Parameters:
    ///   - directory: The run directory; it must exist.
    ///   - wallTime: Seconds since 1970, for the file name and the first record.
    ///   - hostname: The host part of the file name.
    /// - Throws: ``RunLogError/cannotWrite(_:)`` when the file cannot be created or written.
    public init(directory: URL, wallTime: Double = Date().timeIntervalSince1970,
                hostname: String = TensorBoardEventWriter.localHostname()) throws {
        let host = hostname.isEmpty ? "localhost" : hostname.replacingOccurrences(of: "/", with: "_")
        url = directory.appendingPathComponent("events.out.tfevents.\(Int(wallTime)).\(host)")
        // Two writers started in the same second share a name; appending keeps both runs' records.
        if !FileManager.default.fileExists(atPath: url.path) {
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw RunLogError.cannotWrite(url.path)
            }
        }
        do {
            handle = try FileHandle(forWritingTo: url)
            handle.seekToEndOfFile()
        } catch {
            throw RunLogError.cannotWrite(url.path)
        }
        event.appendDouble(field: 1, wallTime)
        event.appendInt64(field: 2, 0)
        event.appendString(field: 3, "brain.Event:2")
        try writeEvent()
    }

    /// The short host name, as TensorBoard's own writers use it; `gethostname`
    /// rather than `ProcessInfo.hostName`, which may wait on a DNS lookup.
    public static func localHostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(cString: buffer)
    }

    deinit {
        try? handle.close()
    }

    /// Writes one `Event` holding `scalars` at `step`.
    ///
    /// - Parameters:
    ///   - scalars: Tag and value pairs, e.g. `("train/loss", 0.31)`.
    ///   - step: The training step the values belong to (the x axis in TensorBoard).
    ///   - wallTime: Seconds since 1970.
    /// - Throws: ``RunLogError/cannotWrite(_:)`` when the write fails.
    public func writeScalars(_ scalars: [(tag: String, value: Float)], step: Int,
                             wallTime: Double = Date().timeIntervalSince1970) throws {
        event.reset()
        event.appendDouble(field: 1, wallTime)
        event.appendInt64(field: 2, Int64(step))
        event.appendMessage(field: 5) { summary in
            for scalar in scalars {
                summary.appendMessage(field: 1) { value in
                    value.appendString(field: 1, scalar.tag)
                    value.appendFloat(field: 2, scalar.value)
                }
            }
        }
        try writeEvent()
    }

    /// Writes the scalars of one `metrics.jsonl` record (see ``TensorBoardScalars``).
    ///
    /// Never throws: the event file is a view of the run, and on a multi-rank run
    /// a throw on rank 0 alone would leave the other ranks waiting in a collective.
    /// The first failure is kept in ``failure`` and printed once on standard error;
    /// later records are dropped.
    ///
    /// - Parameter fields: The record, as given to ``MetricsLog/write(_:)-(String,MetricValue)``.
    public func record(_ fields: [(String, MetricValue)]) {
        guard failure == nil, let (step, scalars) = TensorBoardScalars.scalars(of: fields) else { return }
        do {
            try writeScalars(scalars, step: step)
        } catch {
            failure = error as? RunLogError ?? .cannotWrite(url.path)
            FileHandle.standardError.write(Data("ddp: warning: \(error); TensorBoard events stop here\n".utf8))
        }
    }

    private func writeEvent() throws {
        framed.removeAll(keepingCapacity: true)
        TFRecord.append(event.bytes, to: &framed)
        let descriptor = handle.fileDescriptor
        let ok = framed.withUnsafeBytes { raw -> Bool in
            var done = 0
            while done < raw.count {
                let n = write(descriptor, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                done += n
            }
            return true
        }
        guard ok else { throw RunLogError.cannotWrite(url.path) }
    }
}
