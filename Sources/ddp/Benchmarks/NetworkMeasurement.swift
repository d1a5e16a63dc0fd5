// What crosses the network in a multi-host benchmark: the host layout, the
// bytes each host sent (read from its interfaces' counters), the least an
// allreduce must send for that layout, and the raw TCP throughput between
// two of the hosts measured in the same run, so that MPI's share of the wire
// is a ratio rather than a guess.

import Foundation
import MPI
#if canImport(Glibc)
import Glibc
#endif

/// The hosts of a job and the traffic between them.
struct NetworkReport: Codable, Sendable {
    /// Hosts taking part.
    var hosts: Int
    /// Ranks on each host, in host order.
    var ranksPerHost: [Int]
    /// Each host's name, in host order.
    var hostNames: [String]
    /// Bytes each host's interfaces (all but loopback) sent per step, in host order.
    var sentBytesPerStepPerHost: [Double]?
    /// The least a host must send per step to allreduce the gradients:
    /// `2(H-1)/H x gradient bytes` in the wire format.
    var minimumBytesPerStepPerHost: Double?
    /// Largest of `sentBytesPerStepPerHost` over the minimum.
    var sentToMinimumRatio: Double?
    /// One plain TCP stream from the first rank of host 1 to the first rank
    /// of host 0, GB/s (`nil` on one host, or when no address could be reached).
    var rawTCPGBs: Double?
    /// Two plain TCP streams between the same ranks, one each way at once:
    /// the slower direction's GB/s. A two-host allreduce sends both ways at
    /// once, and on hosts whose network stack shares the cores (as here) a
    /// direction then gets less than a lone stream.
    var rawTCPBothWaysGBs: Double?
}

/// Reads the network counters around a benchmark and measures raw TCP.
/// Every call is collective over the world.
final class NetworkMeasurement {
    private let world: Communicator
    private let layout: HostLayout
    private var startBytes: UInt64 = 0
    let hostNames: [String]
    let ranksPerHost: [Int]

    init(world: Communicator) throws {
        self.world = world
        layout = try world.hostLayout()
        // Host order: the order of the hosts' first ranks in the world.
        let leaders = try world.allGather([Int32(layout.host.rank == 0 ? world.rank : -1), Int32(layout.host.size)])
        var names: [String] = [], sizes: [Int] = []
        let allNames = try world.gatherHostNames()
        for rank in 0..<world.size where leaders[2 * rank] >= 0 {
            names.append(allNames[rank])
            sizes.append(Int(leaders[2 * rank + 1]))
        }
        hostNames = names
        ranksPerHost = sizes
    }

    var hosts: Int { layout.hosts }

    /// Notes the counters before the timed steps.
    func start() throws {
        try world.barrier()
        startBytes = Self.sentBytes()
    }

    /// The hosts alone, with a raw TCP figure measured elsewhere.
    func layoutReport(rawTCP: (oneWay: Double, bothWays: Double)?) -> NetworkReport {
        NetworkReport(hosts: layout.hosts, ranksPerHost: ranksPerHost, hostNames: hostNames,
                      rawTCPGBs: rawTCP?.oneWay, rawTCPBothWaysGBs: rawTCP?.bothWays)
    }

    /// The report after `steps` timed steps that each reduced `gradientBytes`.
    func finish(steps: Int, gradientBytes: Int, measureTCP: Bool = true) throws -> NetworkReport {
        let sent = Double(Self.sentBytes() &- startBytes) / Double(max(steps, 1))
        let perHost = try world.allGather([layout.host.rank == 0 ? sent : -1]).filter { $0 >= 0 }
        let h = Double(layout.hosts)
        let minimum = layout.hosts > 1 ? 2 * (h - 1) / h * Double(gradientBytes) : nil
        var report = NetworkReport(hosts: layout.hosts, ranksPerHost: ranksPerHost, hostNames: hostNames)
        if layout.hosts > 1 {
            report.sentBytesPerStepPerHost = perHost
            report.minimumBytesPerStepPerHost = minimum
            report.sentToMinimumRatio = minimum.map { (perHost.max() ?? 0) / $0 }
        }
        if measureTCP, let tcp = try rawTCPThroughput() {
            report.rawTCPGBs = tcp.oneWay
            report.rawTCPBothWaysGBs = tcp.bothWays
        }
        return report
    }

    /// GB/s of plain TCP between the first ranks of hosts 0 and 1, about
    /// `seconds` long: one stream from host 1 to host 0 (`oneWay`), and one
    /// each way at once (`bothWays`, the slower direction), the pattern of a
    /// two-host allreduce. `nil` on one host. Collective.
    func rawTCPThroughput(seconds: Double = 1.0) throws -> (oneWay: Double, bothWays: Double)? {
        guard layout.hosts > 1 else { return nil }
        // Ranks that measure nothing pass -1 to the maximum and +inf to the
        // minimum; a leader whose stream failed passes -1 to both.
        var oneWay = -1.0, bothWays = Double.infinity
        if layout.host.rank == 0 {
            // The other hosts' first ranks take part in the address exchange only.
            let measures = layout.peers.rank < 2
            let first = try stream(seconds: seconds, bothWays: false)
            let second = try stream(seconds: seconds, bothWays: true)
            if measures {
                oneWay = first ?? -1
                bothWays = second ?? -1
            }
        }
        let received = try world.allReduce(oneWay, op: .max)
        let slower = try world.allReduce(bothWays, op: .min)
        return received > 0 && slower > 0 && slower.isFinite ? (received, slower) : nil
    }

    /// One measurement between the host leaders 0 and 1 (ranks 0 and 1 of
    /// ``HostLayout/peers`` at position 0): each listens, they swap ports and
    /// addresses, host 1 sends to host 0, and with `bothWays` host 0 also
    /// sends to host 1 at the same time. Returns the GB/s received here
    /// (host 0 one way; either leader both ways), `nil` elsewhere.
    private func stream(seconds: Double, bothWays: Bool) throws -> Double? {
        let leaders = layout.peers
        let server = leaders.rank < 2 ? TCPStreamServer() : nil
        // Per leader: port, then up to maxAddresses IPv4 addresses.
        let width = 1 + Self.maxAddresses
        var offer = [Int32](repeating: 0, count: width)
        if let server {
            offer[0] = Int32(server.port)
            for (index, address) in Self.localIPv4Addresses().prefix(Self.maxAddresses).enumerated() {
                offer[1 + index] = Int32(bitPattern: address)
            }
        }
        let offers = try leaders.allGather(offer)
        guard leaders.rank < 2, let server else { return nil }
        let peer = 1 - leaders.rank
        let port = UInt16(truncatingIfNeeded: offers[peer * width])
        let addresses = offers[(peer * width + 1)..<((peer + 1) * width)].filter { $0 != 0 }.map { UInt32(bitPattern: $0) }
        let sends = leaders.rank == 1 || bothWays
        let receives = leaders.rank == 0 || bothWays
        let outgoing = sends && port != 0 ? TCPStream.connect(to: addresses, port: port) : nil
        let incoming = receives ? server.accept() : nil
        defer {
            if let outgoing { close(outgoing) }
            if let incoming { close(incoming) }
        }
        return TCPStream.run(sending: outgoing, receiving: incoming, seconds: seconds)
    }

    private static let maxAddresses = 8

    /// Bytes sent by every interface but loopback since boot.
    static func sentBytes() -> UInt64 {
        let root = "/sys/class/net"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: root) else { return 0 }
        var total: UInt64 = 0
        for name in names where name != "lo" {
            if let text = try? String(contentsOfFile: "\(root)/\(name)/statistics/tx_bytes", encoding: .utf8),
               let value = UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                total &+= value
            }
        }
        return total
    }

    /// The IPv4 addresses of this host's interfaces that are up, loopback
    /// excluded, in network byte order.
    static func localIPv4Addresses() -> [UInt32] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return [] }
        defer { freeifaddrs(list) }
        var addresses: [UInt32] = []
        var entry = list
        while let current = entry {
            let flags = Int32(current.pointee.ifa_flags)
            if let address = current.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET),
               flags & Int32(IFF_UP) != 0, flags & Int32(IFF_LOOPBACK) == 0 {
                address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { addresses.append($0.pointee.sin_addr.s_addr) }
            }
            entry = current.pointee.ifa_next
        }
        return addresses
    }

}

/// A listening socket on every address of this host, any free port.
private final class TCPStreamServer {
    let socket: Int32
    let port: UInt16

    init?() {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = INADDR_ANY
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(socket, pointer, length) == 0 && listen(socket, 1) == 0 && getsockname(socket, pointer, &length) == 0
            }
        }
        guard bound else {
            close(socket)
            return nil
        }
        self.socket = socket
        port = UInt16(bigEndian: address.sin_port)
    }

    deinit {
        close(socket)
    }

    /// The next incoming connection, waiting at most 10 s.
    func accept() -> Int32? {
        var poller = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, 10_000) == 1 else { return nil }
        let connection = Glibc.accept(socket, nil, nil)
        return connection >= 0 ? connection : nil
    }
}

/// One stream of zeros out and/or one in, on one thread with `poll`, as
/// iperf3 runs them (two threads on a host's single core would measure the
/// scheduler too).
private enum TCPStream {
    /// A connected socket to the first of `addresses` that answers.
    static func connect(to addresses: [UInt32], port: UInt16) -> Int32? {
        for address in addresses {
            let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard socket >= 0 else { return nil }
            var target = sockaddr_in()
            target.sin_family = sa_family_t(AF_INET)
            target.sin_addr.s_addr = address
            target.sin_port = port.bigEndian
            var timeout = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let connected = withUnsafePointer(to: &target) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
            if connected { return socket }
            close(socket)
        }
        return nil
    }

    /// Sends on `sending` for `seconds` (then closes its direction) while
    /// receiving on `receiving` until its end; returns the GB/s received,
    /// from its first byte to its end, or `nil` when nothing was received.
    static func run(sending: Int32?, receiving: Int32?, seconds: Double) -> Double? {
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 64)
        defer { buffer.deallocate() }
        memset(buffer, 0, chunk)
        let clock = { DispatchTime.now().uptimeNanoseconds }
        let end = clock() + UInt64(seconds * 1e9)
        var sendOpen = sending != nil, receiveOpen = receiving != nil
        var total = 0
        var first: UInt64 = 0, last: UInt64 = 0
        // A stuck peer must not hang the benchmark.
        let giveUp = end + 10_000_000_000
        while (sendOpen || receiveOpen) && clock() < giveUp {
            var fds: [pollfd] = []
            if sendOpen, let sending { fds.append(pollfd(fd: sending, events: Int16(POLLOUT), revents: 0)) }
            if receiveOpen, let receiving { fds.append(pollfd(fd: receiving, events: Int16(POLLIN), revents: 0)) }
            guard poll(&fds, nfds_t(fds.count), 1_000) >= 0 else { break }
            for entry in fds where entry.revents != 0 {
                if entry.fd == sending {
                    if clock() >= end {
                        shutdown(entry.fd, Int32(SHUT_WR))
                        sendOpen = false
                    } else if Glibc.send(entry.fd, buffer, chunk, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) < 0
                                && errno != EAGAIN {
                        sendOpen = false
                    }
                } else {
                    let count = recv(entry.fd, buffer, chunk, Int32(MSG_DONTWAIT))
                    if count > 0 {
                        let now = clock()
                        if first == 0 { first = now }
                        last = now
                        total += count
                    } else if count == 0 || errno != EAGAIN {
                        receiveOpen = false
                    }
                }
            }
        }
        guard total > 0, last > first else { return nil }
        return Double(total) / (Double(last - first) * 1e-9) / 1e9
    }
}
