import Foundation

/// The hosts that `launch/test-cluster.sh up N` made on this machine
/// (network namespaces with their own addresses and hostnames), read from
/// its state directory.
public struct TestCluster: Sendable {
    /// The mpirun hostfile, one line per host.
    public let hostfile: String
    /// The `OMPI_MCA_*` variables of the state directory's `env` file: how
    /// mpirun reaches the hosts (the rsh agent) and which network to use.
    public let environment: [String: String]
    /// The host names, in hostfile order.
    public let hosts: [String]
    /// The state directory.
    public let directory: String

    /// Why the cluster cannot be used.
    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    /// The cluster whose state directory is `$DDP_TEST_CLUSTER_DIR`.
    ///
    /// - Throws: ``Unavailable`` when the variable is unset or the directory
    ///   holds no hostfile: the multi-host tests run only through
    ///   `launch/cluster-test.sh`, which brings the hosts up.
    public static func current() throws -> TestCluster {
        guard let directory = ProcessInfo.processInfo.environment["DDP_TEST_CLUSTER_DIR"], !directory.isEmpty else {
            throw Unavailable(description: "DDP_TEST_CLUSTER_DIR is not set: run the multi-host tests with launch/cluster-test.sh")
        }
        let hostfile = directory + "/hostfile"
        guard let hostText = try? String(contentsOfFile: hostfile, encoding: .utf8) else {
            throw Unavailable(description: "\(hostfile): missing; is the cluster up (launch/test-cluster.sh up 2)?")
        }
        guard let envText = try? String(contentsOfFile: directory + "/env", encoding: .utf8) else {
            throw Unavailable(description: "\(directory)/env: missing; is the cluster up?")
        }
        var environment: [String: String] = [:]
        for line in envText.split(separator: "\n") {
            var text = line.trimmingCharacters(in: .whitespaces)
            guard text.hasPrefix("export ") else { continue }
            text.removeFirst("export ".count)
            guard let equals = text.firstIndex(of: "=") else { continue }
            let name = String(text[..<equals])
            var value = String(text[text.index(after: equals)...])
            if value.count >= 2, let first = value.first, first == "'" || first == "\"", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            environment[name] = value
        }
        let hosts = hostText.split(separator: "\n").compactMap { line -> String? in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#") else { return nil }
            return trimmed.split(separator: " ").first.map(String.init)
        }
        return TestCluster(hostfile: hostfile, environment: environment, hosts: hosts, directory: directory)
    }
}
