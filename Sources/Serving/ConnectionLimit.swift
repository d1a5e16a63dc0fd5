import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// The connections the service holds open at once, at most `limit`: one
/// more is closed as soon as it is accepted, so that a flood of clients (or
/// of idle sockets) cannot exhaust file descriptors and memory while the
/// connections already open are served.
final class ConnectionLimit: @unchecked Sendable {
    let limit: Int
    private let lock = NSLock()
    private var open = 0
    private var refused = 0

    init(limit: Int) {
        precondition(limit >= 1, "ConnectionLimit: limit must be at least 1")
        self.limit = limit
    }

    /// Takes a slot; false when all are taken (the connection is then refused and counted).
    func acquire() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard open < limit else {
            refused += 1
            return false
        }
        open += 1
        return true
    }

    func release() {
        lock.lock()
        open -= 1
        lock.unlock()
    }

    /// Connections open now, and refused so far.
    var counts: (open: Int, refused: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (open, refused)
    }
}

/// An HTTP/1 server child channel whose connections count against a
/// ``ConnectionLimit``; one over the limit is answered 503 (with
/// `Retry-After`) and closed, without reading its request.
struct ConnectionLimitedChannel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let inner: HTTP1Channel
    let limit: ConnectionLimit

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        inner.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        guard limit.acquire() else {
            // Through the async channel, which must finish its writer before it goes.
            try? await value.executeThenClose { _, outbound in
                let body = ByteBuffer(string: "{\"error\":\"the service has \(limit.limit) connections open; retry later\"}")
                var fields = HTTPFields()
                fields[.contentType] = "application/json"
                fields[.contentLength] = String(body.readableBytes)
                fields[.retryAfter] = "1"
                fields[.connection] = "close"
                try await outbound.write(.head(HTTPResponse(status: .serviceUnavailable, headerFields: fields)))
                try await outbound.write(.body(body))
                try await outbound.write(.end(nil))
            }
            return
        }
        defer { limit.release() }
        await inner.handle(value: value, logger: logger)
    }
}
