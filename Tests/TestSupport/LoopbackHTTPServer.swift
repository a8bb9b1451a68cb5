import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real HTTP/1.1 server on 127.0.0.1 (an ephemeral port) for download
/// tests: each request is parsed and handed to `handler`, whose response may
/// be cut short to simulate a dropped connection.
public final class LoopbackHTTPServer: @unchecked Sendable {
    public struct Request {
        public var method: String
        public var target: String
        public var headers: [String: String]   // lower-cased names

        public var path: String {
            // A proxy receives absolute-form targets ("http://host/path").
            if target.hasPrefix("http://"), let url = URL(string: target) { return url.path }
            return target
        }
    }

    public struct Response {
        public var status: Int
        public var headers: [(String, String)] = []
        public var body: [UInt8] = []
        /// Close the connection after this many body bytes.
        public var cutAfter: Int?

        public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = [], cutAfter: Int? = nil) {
            self.status = status
            self.headers = headers
            self.body = body
            self.cutAfter = cutAfter
        }
    }

    public let port: UInt16
    private let listener: Int32
    private let handler: (Request) -> Response
    private let lock = NSLock()
    private var log: [Request] = []
    private let finished = DispatchSemaphore(value: 0)

    public var requests: [Request] {
        lock.lock()
        defer { lock.unlock() }
        return log
    }

    public var baseURL: String { "http://127.0.0.1:\(port)" }

    public init(handler: @escaping (Request) -> Response) throws {
        self.handler = handler
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(descriptor, 16) == 0 else {
            close(descriptor)
            throw POSIXError(.EADDRINUSE)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        listener = descriptor
        port = UInt16(bigEndian: address.sin_port)
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    private var stopped = false

    /// Stops listening; later connections are refused. Safe to call twice.
    public func stop() {
        lock.lock()
        let first = !stopped
        stopped = true
        lock.unlock()
        guard first else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        finished.wait()
    }

    private func acceptLoop() {
        defer { finished.signal() }
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 { return }
            serve(connection)
            close(connection)
        }
    }

    private func serve(_ connection: Int32) {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !buffer.ends(with: Array("\r\n\r\n".utf8)) {
            let count = read(connection, &chunk, chunk.count)
            if count <= 0 { return }
            buffer += chunk[0..<count]
            if buffer.count > 65536 { return }
        }
        let lines = String(decoding: buffer, as: UTF8.self).components(separatedBy: "\r\n")
        let parts = lines[0].split(separator: " ")
        guard parts.count >= 2 else { return }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() where line.contains(":") {
            let pair = line.split(separator: ":", maxSplits: 1)
            headers[pair[0].lowercased()] = pair[1].trimmingCharacters(in: .whitespaces)
        }
        let request = Request(method: String(parts[0]), target: String(parts[1]), headers: headers)
        lock.lock()
        log.append(request)
        lock.unlock()
        let response = handler(request)
        var head = "HTTP/1.1 \(response.status) \(response.status == 200 ? "OK" : "Status")\r\n"
        var headerNames = Set<String>()
        for (name, value) in response.headers {
            head += "\(name): \(value)\r\n"
            headerNames.insert(name.lowercased())
        }
        if !headerNames.contains("content-length") { head += "Content-Length: \(response.body.count)\r\n" }
        head += "Connection: close\r\n\r\n"
        send(connection, Array(head.utf8))
        send(connection, Array(response.body.prefix(response.cutAfter ?? response.body.count)))
    }

    private func send(_ connection: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
            if written <= 0 { return }
            offset += written
        }
    }
}

private extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool {
        count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
    }
}

/// Serves a model folder the way the Hugging Face Hub does: small files
/// directly with a git-style ETag; model weights through a redirect to a
/// "CDN" path whose redirect carries X-Linked-Etag (the SHA-256) and
/// X-Linked-Size, with HTTP Range support.
public final class FakeHub: @unchecked Sendable {
    public let repository: String
    public let folder: String
    public let server: LoopbackHTTPServer
    /// Wrong checksums, cut transfers and missing files, per test.
    public var announcedSHA256: [String: String] = [:]
    public var cutFirstTransferOf: Set<String> = []
    public var missing: Set<String> = []
    /// Where large files are redirected to: this server's /cdn/, or another
    /// server's (a base URL).
    public var cdn: String?
    /// The CDN's answers carry their own X-Linked-Etag and X-Linked-Size, as
    /// a hostile redirect target would, vouching for what it sends.
    public var cdnVouches = false
    /// The hub says no size for large files.
    public var announcesSize = true
    /// Bytes the CDN sends after each large file.
    public var extraBytes = 0
    private var cut: Set<String> = []
    private let lock = NSLock()

    public init(repository: String, folder: String) throws {
        self.repository = repository
        self.folder = folder
        var router: ((LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Response)?
        server = try LoopbackHTTPServer { request in router!(request) }
        router = { [unowned self] request in self.respond(request) }
    }

    public var url: String { server.baseURL }

    public static let commit = "0123456789abcdef0123456789abcdef01234567"

    /// The file's SHA-256 by coreutils' sha256sum: an implementation
    /// independent of the one under test.
    public func sha256(_ file: String) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [folder + "/" + file]
        let output = Pipe()
        process.standardOutput = output
        try! process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return String(text.prefix(64))
    }

    private func respond(_ request: LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Response {
        let resolve = "/\(repository)/resolve/main/"
        if request.path.hasPrefix(resolve) {
            let file = String(request.path.dropFirst(resolve.count))
            guard !missing.contains(file), let data = FileManager.default.contents(atPath: folder + "/" + file) else {
                return .init(status: 404, body: Array("Entry not found".utf8))
            }
            if file.hasSuffix(".safetensors") || file.hasSuffix(".bin") {   // large files: LFS, served from a CDN
                return .init(status: 302, headers: [
                    ("Location", (cdn ?? "") + "/cdn/\(file)"), ("X-Linked-Etag", "\"\(announcedSHA256[file] ?? sha256(file))\""),
                    ("X-Repo-Commit", Self.commit), ("Content-Length", "0"),
                ] + (announcesSize ? [("X-Linked-Size", "\(data.count)")] : []))
            }
            return .init(status: 200, headers: [("ETag", "\"\(String(repeating: "a", count: 40))\""), ("X-Repo-Commit", Self.commit)],
                         body: Array(data))
        }
        if request.path.hasPrefix("/cdn/") {
            let file = String(request.path.dropFirst(5))
            let data = Array(FileManager.default.contents(atPath: folder + "/" + file)!) + [UInt8](repeating: 0x41, count: extraBytes)
            var start = 0
            var status = 200
            var headers: [(String, String)] = cdnVouches ? [("X-Linked-Etag", "\"\(sha256(file))\""), ("X-Linked-Size", "\(data.count)")] : []
            if let range = request.headers["range"], range.hasPrefix("bytes="), let first = Int(range.dropFirst(6).split(separator: "-").first ?? "") {
                start = first
                status = 206
                headers.append(("Content-Range", "bytes \(first)-\(data.count - 1)/\(data.count)"))
            }
            let body = Array(data[start...])
            lock.lock()
            let shouldCut = cutFirstTransferOf.contains(file) && !cut.contains(file)
            if shouldCut { cut.insert(file) }
            lock.unlock()
            return .init(status: status, headers: headers, body: body, cutAfter: shouldCut ? body.count / 2 : nil)
        }
        return .init(status: 404)
    }
}
