import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A program the launcher could not start.
public enum LaunchError: Error, CustomStringConvertible, Equatable {
    /// posix_spawn refused `executable` with `errno`.
    case cannotStart(executable: String, errno: Int32)

    public var description: String {
        switch self {
        case .cannotStart(let executable, let code): return "cannot start \(executable): \(String(cString: strerror(code)))"
        }
    }
}

/// Starts `executable` with signal dispositions reset to default, since the
/// launcher ignores the ones it forwards and exec would keep them ignored.
public func spawnChild(_ executable: String, arguments: [String], environment: [String: String]) throws -> pid_t {
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for signal in SignalForwarder.handled + [SIGPIPE] { sigaddset(&defaults, signal) }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    var emptyMask = sigset_t()
    sigemptyset(&emptyMask)
    posix_spawnattr_setsigmask(&attributes, &emptyMask)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        argv.forEach { free($0) }
        envp.forEach { free($0) }
    }
    var pid: pid_t = 0
    let code = posix_spawn(&pid, executable, nil, &attributes, argv, envp)
    guard code == 0 else { throw LaunchError.cannotStart(executable: executable, errno: code) }
    return pid
}
