import Foundation
import Hummingbird
import ServiceLifecycle

/// Whether the service is shutting down, so that the answers still being
/// written say `Connection: close`: a keep-alive client then sends its next
/// request elsewhere (or later) instead of into a connection the service is
/// about to close, where it would be lost.
final class ShutdownNotice: Service, @unchecked Sendable {
    private let lock = NSLock()
    private var started = false

    var isShuttingDown: Bool {
        lock.withLock { started }
    }

    /// Waits for the service group's graceful shutdown (SIGTERM or SIGINT) and records it.
    func run() async throws {
        try? await gracefulShutdown()
        lock.withLock { started = true }
    }
}

/// Adds `Connection: close` to every answer once shutdown has begun.
struct CloseOnShutdownMiddleware<Context: RequestContext>: RouterMiddleware {
    let notice: ShutdownNotice

    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        if notice.isShuttingDown { response.headers[.connection] = "close" }
        return response
    }
}
