import Foundation
import MPIRunSupport
#if canImport(Glibc)
import Glibc
#endif

/// A running `ddp serve` on a free loopback port, for tests that talk HTTP to it.
public final class ServeProcess {
    public let process = Process()
    public let port: Int
    private let output = Pipe()
    public private(set) var transcript = ""

    public init(arguments: [String]) throws {
        process.executableURL = try MPIRun.executableURL(named: "ddp")
        process.arguments = ["serve", "--port", "0"] + arguments
        process.environment = MPIRun.childEnvironment()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        // The first line names the bound address; port 0 let the kernel pick a free one.
        var line = ""
        let handle = output.fileHandleForReading
        while !line.contains("\n") {
            let data = handle.availableData
            if data.isEmpty { break }
            line += String(decoding: data, as: UTF8.self)
        }
        transcript = line
        guard let range = line.range(of: "on http://127.0.0.1:"),
              let port = Int(line[range.upperBound...].prefix { $0.isNumber }) else {
            process.terminate()
            throw ServeDidNotStart(output: line)
        }
        self.port = port
    }

    /// Sends SIGTERM and waits for the exit; the rest of the output is kept.
    public func stop() -> Int32 {
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { process.interrupt(); kill(process.processIdentifier, SIGKILL); return -1 }
        transcript += String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return process.terminationStatus
    }
}

/// A TCP connection to `127.0.0.1:port`, which the caller closes.
public func connectToLoopback(_ port: Int) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw POSIXError(.EMFILE) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else {
        close(fd)
        throw POSIXError(.ECONNREFUSED)
    }
    return fd
}

/// One HTTP/1.1 exchange over a fresh connection: status and body.
public func httpExchange(_ port: Int, _ method: String, _ path: String, body: String? = nil,
                  raw: String? = nil) throws -> (status: Int, body: String) {
    let fd = try connectToLoopback(port)
    defer { close(fd) }
    var timeout = timeval(tv_sec: 30, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let payload = Array((body ?? "").utf8)
    let request = raw ?? "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        + "Content-Type: application/json\r\nContent-Length: \(payload.count)\r\n\r\n"
    var bytes = Array(request.utf8) + (raw == nil ? payload : [])
    var sent = 0
    while sent < bytes.count {
        let n = bytes.withUnsafeMutableBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
        if n <= 0 { break }  // the server may close early on an oversized body
        sent += n
    }
    bytes = []
    var response = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { break }
        response += buffer[0..<n]
    }
    let text = String(decoding: response, as: UTF8.self)
    guard let statusLine = text.split(separator: "\r\n").first, statusLine.hasPrefix("HTTP/1.1 "),
          let status = Int(statusLine.dropFirst(9).prefix(3)) else { return (0, text) }
    let bodyText = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
    return (status, bodyText)
}

/// `ddp serve` ended or printed something else before its "listening" line:
/// a failure of the service, never a reason to skip its tests.
public struct ServeDidNotStart: Error, CustomStringConvertible {
    public let output: String
    public var description: String { "ddp serve did not start: \(output)" }
}
