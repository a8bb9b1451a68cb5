import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Why an exchange with a loopback server failed.
public struct LoopbackError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A TCP connection to a server on 127.0.0.1 that sends what it is given:
/// whole requests, or requests cut short, for clients that stall.
public final class LoopbackConnection {
    public let descriptor: Int32

    /// `host`: 127.0.0.1 unless given, an IPv4 address or an IPv6 one
    /// (bracketed or not). `receiveBuffer`: the socket's receive buffer in
    /// bytes (SO_RCVBUF, before connecting: the window the server sees), for
    /// a client that reads little or nothing.
    public init(host: String = "127.0.0.1", port: Int, sending bytes: [UInt8] = [], receiveBuffer: Int32? = nil) throws {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        // A numeric address only: never a name lookup.
        var hints = addrinfo()
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(bare, String(port), &hints, &found) == 0, let address = found?.pointee else {
            throw LoopbackError("not a numeric address: \(host)")
        }
        defer { freeaddrinfo(found) }
        descriptor = socket(address.ai_family, address.ai_socktype, address.ai_protocol)
        guard descriptor >= 0 else { throw LoopbackError("socket: \(errno)") }
        if var size = receiveBuffer { setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) }
        guard connect(descriptor, address.ai_addr, address.ai_addrlen) == 0 else {
            Glibc.close(descriptor)
            throw LoopbackError("cannot connect to \(host) port \(port): \(errno)")
        }
        send(bytes)
    }

    deinit { Glibc.close(descriptor) }

    /// Sends `bytes`, as much as the server takes (it may answer and close
    /// before reading everything, as a 413 does).
    public func send(_ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count <= 0 { break }
            sent += count
        }
    }

    public enum Outcome: Equatable {
        /// The server closed the connection, after sending these bytes.
        case closed([UInt8])
        /// Nothing ended it within the guard: a test fails rather than hangs.
        case stillOpen
    }

    /// Reads until the server closes the connection, or `guardSeconds` pass
    /// without a byte.
    public func readToEnd(guardSeconds: Int? = nil) -> Outcome {
        if let guardSeconds {
            var timeout = timeval(tv_sec: guardSeconds, tv_usec: 0)
            setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count == 0 { return .closed(received) }
            if count < 0 { return errno == EAGAIN || errno == EWOULDBLOCK ? .stillOpen : .closed(received) }
            received += buffer[0..<count]
        }
    }

    /// Closes the connection now (before this object goes).
    public func close() { shutdown(descriptor, Int32(SHUT_RDWR)) }
}

/// One HTTP/1.1 exchange over a plain socket, the request line sent exactly
/// as given (no client-side normalisation of `..` or escapes), the
/// connection closed after the answer.
public struct HTTPAnswer {
    public let status: Int
    public let headers: [(String, String)]
    public let body: [UInt8]

    public var text: String { String(decoding: body, as: UTF8.self) }

    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    /// A Host header given in `headers` replaces the usual `127.0.0.1:port`.
    /// `host`: the address to connect to (and the usual Host), 127.0.0.1
    /// unless given.
    public static func request(host: String = "127.0.0.1", port: Int, method: String, target: String, headers: [String: String] = [:],
                               body: [UInt8] = []) throws -> HTTPAnswer {
        var head = "\(method) \(target) HTTP/1.1\r\n"
        if !headers.keys.contains(where: { $0.lowercased() == "host" }) { head += "Host: \(host):\(port)\r\n" }
        head += "Connection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if method == "POST" { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        let connection = try LoopbackConnection(host: host, port: port, sending: Array(head.utf8) + body)
        guard case let .closed(received) = connection.readToEnd() else { throw LoopbackError("no answer") }
        guard let split = received.indices.dropLast(3).first(where: { received[$0..<($0 + 4)].elementsEqual([13, 10, 13, 10]) }) else {
            throw LoopbackError("no HTTP answer: \(String(decoding: received.prefix(200), as: UTF8.self))")
        }
        let lines = String(decoding: received[..<split], as: UTF8.self).components(separatedBy: "\r\n")
        let status = lines[0].split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        let fields = lines.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        var payload = Array(received[(split + 4)...])
        if fields.contains(where: { $0.0.lowercased() == "transfer-encoding" && $0.1.lowercased() == "chunked" }) {
            payload = dechunk(payload)
        }
        return HTTPAnswer(status: status, headers: fields, body: payload)
    }

    static func dechunk(_ bytes: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        var index = 0
        while index < bytes.count {
            guard let lineEnd = bytes[index...].firstIndex(of: 13) else { break }
            let size = Int(String(decoding: bytes[index..<lineEnd], as: UTF8.self).split(separator: ";")[0], radix: 16) ?? 0
            if size == 0 { break }
            let start = lineEnd + 2
            output += bytes[start..<min(bytes.count, start + size)]
            index = start + size + 2
        }
        return output
    }
}
