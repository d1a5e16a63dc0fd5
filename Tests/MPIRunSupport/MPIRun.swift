import Foundation

/// The outcome of a finished child process.
public struct MPIRunResult: Sendable, CustomStringConvertible {
    /// The exit status, or 128 + signal number when killed by a signal.
    public let exitCode: Int32
    /// Everything the process wrote to standard output.
    public let stdout: String
    /// Everything the process wrote to standard error.
    public let stderr: String

    /// Standard output split into lines, without empty trailing lines.
    public var stdoutLines: [String] {
        stdout.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    }

    public var description: String {
        "exit code \(exitCode)\n--- stdout ---\n\(stdout)\n--- stderr ---\n\(stderr)"
    }
}

/// Why a child process could not be run to completion.
public enum MPIRunError: Error, CustomStringConvertible {
    /// No executable called `name` was found in any of `searched`.
    case executableNotFound(name: String, searched: [String])
    /// `posix_spawn` failed with `errno`.
    case spawnFailed(executable: String, errno: Int32)
    /// The process group was killed after `timeout` seconds; partial output kept.
    case timedOut(timeout: TimeInterval, partial: MPIRunResult)
    /// A temporary output file could not be created.
    case temporaryFile(path: String, errno: Int32)

    public var description: String {
        switch self {
        case let .executableNotFound(name, searched):
            return "executable '\(name)' not found in \(searched.joined(separator: ", "))"
        case let .spawnFailed(executable, code):
            return "could not start \(executable): \(String(cString: strerror(code)))"
        case let .timedOut(timeout, partial):
            return "timed out after \(timeout) s; process group killed\n\(partial)"
        case let .temporaryFile(path, code):
            return "could not create \(path): \(String(cString: strerror(code)))"
        }
    }
}

/// Runs executables under real `mpirun`, or alone, from tests.
///
/// Each child runs in its own process group with stdout and stderr sent to
/// temporary files (so no pipe can fill up and deadlock), and with an
/// environment stripped of every `OMPI_*`, `PMIX_*` and `OPAL_*` variable:
/// a test process that itself runs under a launcher must not leak its job's
/// identity into the child. On timeout the whole group is terminated.
public enum MPIRun {
    /// Runs `executable` on `ranks` processes under `mpirun`.
    ///
    /// - Parameters:
    ///   - executable: The program to launch on every rank.
    ///   - ranks: The number of processes (`-np`); at least 1.
    ///   - arguments: Arguments passed to every rank.
    ///   - environment: Extra variables for the child, added after cleaning.
    ///   - timeout: Seconds before the job's process group is killed.
    /// - Returns: mpirun's exit code and the combined output of all ranks.
    /// - Throws: `MPIRunError.timedOut` on timeout, or a spawn failure.
    public static func run(
        executable: URL,
        ranks: Int,
        arguments: [String] = [],
        environment: [String: String] = [:],
        timeout: TimeInterval = 60,
        cluster: TestCluster? = nil
    ) throws -> MPIRunResult {
        precondition(ranks >= 1, "MPIRun.run: ranks must be at least 1, got \(ranks)")
        var mpirunArguments = ["-np", "\(ranks)", "--oversubscribe"]
        if geteuid() == 0 { mpirunArguments.append("--allow-run-as-root") }
        var childEnvironment = environment
        if let cluster {
            // Ranks go round-robin over the hosts: 2 ranks on 2 hosts is one per host.
            mpirunArguments += ["--hostfile", cluster.hostfile, "--map-by", "node"]
            childEnvironment.merge(cluster.environment) { mine, _ in mine }
        } else if ranks > 2 {
            // Binding to cores fails once ranks outnumber them on a small machine.
            mpirunArguments += ["--bind-to", "none"]
        }
        mpirunArguments.append(executable.path)
        mpirunArguments += arguments
        return try runProcess(executable: try mpirunURL(), arguments: mpirunArguments,
                              environment: childEnvironment, timeout: timeout)
    }

    /// Runs `executable` as a single process, without `mpirun`.
    ///
    /// The cleaned environment means an MPI program started this way takes
    /// the module's size-1 local path.
    ///
    /// - Parameters:
    ///   - executable: The program to run.
    ///   - arguments: Its arguments.
    ///   - environment: Extra variables for the child, added after cleaning.
    ///   - timeout: Seconds before the process group is killed.
    public static func runProcess(
        executable: URL,
        arguments: [String] = [],
        environment: [String: String] = [:],
        timeout: TimeInterval = 60
    ) throws -> MPIRunResult {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("mpirun-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let stdoutPath = directory.appendingPathComponent("stdout").path
        let stderrPath = directory.appendingPathComponent("stderr").path

        let pid = try spawn(executable: executable.path, arguments: arguments,
                            environment: childEnvironment(adding: environment),
                            stdoutPath: stdoutPath, stderrPath: stderrPath)
        let status = waitForExit(pid: pid, timeout: timeout)
        let result = MPIRunResult(exitCode: status ?? -1,
                                  stdout: readText(stdoutPath), stderr: readText(stderrPath))
        guard status != nil else { throw MPIRunError.timedOut(timeout: timeout, partial: result) }
        return result
    }

    /// Finds a product built next to the running test bundle.
    ///
    /// On Linux `swift test` runs `.build/<config>/<package>PackageTests.xctest`,
    /// and executables sit in the same directory. `SWIFT_DDP_BIN_DIR`, if
    /// set, is searched first.
    ///
    /// - Parameter name: The product name, e.g. `"mpi-checks"`.
    public static func executableURL(named name: String) throws -> URL {
        var directories: [URL] = []
        if let override = ProcessInfo.processInfo.environment["SWIFT_DDP_BIN_DIR"] {
            directories.append(URL(fileURLWithPath: override))
        }
        if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            directories.append(URL(fileURLWithPath: executable).deletingLastPathComponent())
        }
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            directories.append(bundle.bundleURL.deletingLastPathComponent())
        }
        directories.append(Bundle.main.bundleURL)
        for directory in directories {
            let candidate = directory.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw MPIRunError.executableNotFound(name: name, searched: directories.map(\.path))
    }

    /// This process's environment without launcher variables, plus `extra`.
    public static func childEnvironment(adding extra: [String: String] = [:]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter { key, _ in
            !["OMPI_", "PMIX_", "OPAL_"].contains { key.hasPrefix($0) }
        }
        environment.merge(extra) { _, new in new }
        return environment
    }

    // MARK: - Process plumbing

    private static func mpirunURL() throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let directories = path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin"]
        for directory in directories {
            let candidate = URL(fileURLWithPath: directory).appendingPathComponent("mpirun")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw MPIRunError.executableNotFound(name: "mpirun", searched: directories)
    }

    /// Starts the child in a new process group with output redirected to files.
    private static func spawn(
        executable: String, arguments: [String], environment: [String: String],
        stdoutPath: String, stderrPath: String
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A session of its own: mpirun moves each rank into a process group
        // of its own, but they stay in mpirun's session, so a timeout can
        // find and kill every rank by session id.
        // Reset signal dispositions the test runner may have changed.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGINT, SIGTERM, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        posix_spawnattr_setflags(&attributes,
                                 Int16(spawnSetSession | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = CStringList([executable] + arguments)
        let envp = CStringList(environment.map { "\($0.key)=\($0.value)" })
        var pid: pid_t = 0
        let code = withExtendedLifetime((argv, envp)) {
            posix_spawn(&pid, executable, &actions, &attributes, argv.pointers, envp.pointers)
        }
        guard code == 0 else { throw MPIRunError.spawnFailed(executable: executable, errno: code) }
        return pid
    }

    /// glibc's `POSIX_SPAWN_SETSID`, which Swift does not import.
    private static let spawnSetSession: Int32 = 0x80

    /// Waits for `pid`; on timeout terminates its session and returns `nil`.
    private static func waitForExit(pid: pid_t, timeout: TimeInterval) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { return decode(status) }
            if result < 0 && errno != EINTR { return -1 }
            if Date() >= deadline { break }
            usleep(20_000)
        }
        // SIGTERM first: mpirun forwards it to the ranks and cleans up its
        // session directory. Anything still alive after a grace period is killed.
        let members = sessionMembers(pid)
        for member in members { kill(member, SIGTERM) }
        let grace = Date().addingTimeInterval(3)
        while Date() < grace {
            if waitpid(pid, &status, WNOHANG) == pid { break }
            usleep(20_000)
        }
        for member in Set(members).union(sessionMembers(pid)) { kill(member, SIGKILL) }
        _ = waitpid(pid, &status, 0)
        return nil
    }

    /// Every live process whose session id is `session`, from `/proc`.
    private static func sessionMembers(_ session: pid_t) -> [pid_t] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [session] }
        var members: [pid_t] = [session]
        for entry in entries {
            guard let process = pid_t(entry), process != session,
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")")
            else { continue }
            // After "pid (comm)": state, ppid, pgrp, session, ...
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 3, fields[0] != "Z", pid_t(fields[3]) == session { members.append(process) }
        }
        return members
    }

    /// The exit code of a `waitpid` status, or 128 + signal when signaled.
    private static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        if signal == 0 { return (status >> 8) & 0xff }
        return 128 + signal
    }

    private static func readText(_ path: String) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { return "" }
        return String(decoding: data, as: UTF8.self)
    }
}

/// A NULL-terminated array of C strings, as `posix_spawn` takes them, freed with the list.
final class CStringList {
    let pointers: [UnsafeMutablePointer<CChar>?]

    init(_ strings: [String]) {
        pointers = strings.map { strdup($0) } + [nil]
    }

    deinit {
        pointers.forEach { free($0) }
    }
}
