import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import PhotoIndex
import Synchronization

/// `photosearch serve`: the gallery page and its JSON API over HTTP/1.1
/// (Hummingbird 2), on loopback by default.
public struct GalleryServer: Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// Required from every client when set: `Authorization: Bearer T`,
        /// or the cookie opening `/?token=T` sets.
        public var token: String?
        public var limits: ServerLimits

        public init(host: String = "127.0.0.1", port: Int = 8080, token: String? = nil, limits: ServerLimits = ServerLimits()) {
            self.host = host
            self.port = port
            self.token = token
            self.limits = limits
        }

        /// Whether `host` only accepts connections from this computer.
        public var isLoopback: Bool {
            host == "localhost" || host == "::1" || host.hasPrefix("127.")
        }
    }

    public let api: GalleryAPI
    public let configuration: Configuration

    public init(api: GalleryAPI, configuration: Configuration) {
        self.api = api
        self.configuration = configuration
    }

    /// A token for a server reachable from other computers: 128 random bits, hex.
    public static func makeToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// Serves until SIGINT or SIGTERM; `listening` gets the address it is bound to
    /// (the real port when 0 was asked for).
    public func run(listening: @escaping @Sendable (String, Int) -> Void) async throws {
        let limits = configuration.limits
        let heavy = WorkLimiter(name: "heavy", running: limits.heavyRunning, waiting: limits.heavyWaiting)
        let uploads = WorkLimiter(name: "uploads", running: limits.concurrentUploads, waiting: 0)
        let boundPort = Mutex(configuration.port)
        let router = Router()
        router.add(middleware: SecurityHeaders())
        router.add(middleware: ErrorsAsJSON())
        if let token = configuration.token {
            router.add(middleware: TokenCheck(token: token))
        } else {
            router.add(middleware: HostCheck(host: configuration.host, port: { boundPort.withLock { $0 } }))
        }
        let api = self.api
        /// A heavy route's answer, or 503 when every turn is taken.
        @Sendable func heavily(_ work: @escaping @Sendable () -> GalleryAPI.Reply) async -> Response {
            guard let reply = await heavy.run(work) else { return Self.busy(limits) }
            return Self.response(reply)
        }

        router.get("/") { _, _ in Self.asset(GalleryPage.html, "text/html; charset=utf-8") }
        router.get("/app.js") { _, _ in Self.asset(GalleryPage.script, "text/javascript; charset=utf-8") }
        router.get("/app.css") { _, _ in Self.asset(GalleryPage.style, "text/css; charset=utf-8") }

        // Cheap routes (a few indexed SQLite reads) answer inline.
        router.get("/api/status") { _, _ in
            Self.response(api.status(busy: .init(heavy: heavy.active, waiting: heavy.waitingCount, uploads: uploads.active)))
        }
        router.get("/api/photos/:id") { _, context in
            Self.response(api.photo(id: context.parameters.get("id") ?? ""))
        }
        router.get("/api/photos/:id/thumbnail") { _, context in
            let id = context.parameters.get("id") ?? ""
            if let stored = api.storedThumbnail(id: id) { return Self.response(stored) }
            return await heavily { api.thumbnail(id: id) }
        }
        // Heavy ones (encoding a query, scanning vectors, reading a photo) take turns.
        router.get("/api/search") { request, _ in
            let parameters = try Self.parameters(request)
            return await heavily { api.search(parameters) }
        }
        router.get("/api/similar/:id") { request, context in
            let id = context.parameters.get("id") ?? ""
            let parameters = try Self.parameters(request)
            return await heavily { api.similar(id: id, parameters) }
        }
        router.get("/api/photos/:id/file") { _, context in
            let id = context.parameters.get("id") ?? ""
            return await heavily { api.file(id: id) }
        }
        router.post("/api/search/image") { request, _ in
            let parameters = try Self.parameters(request)
            // A turn before the body is read: at most `concurrentUploads`
            // bodies are held at once.
            guard await uploads.enter() else { return Self.busy(limits) }
            defer { uploads.leave() }
            let bytes: [UInt8]
            switch try await Self.collect(request.body, limit: GalleryAPI.maximumUpload, seconds: limits.uploadSeconds) {
            case let .complete(body): bytes = body
            case .tooLarge: return Self.response(.error(413, "the image is larger than \(GalleryAPI.maximumUpload >> 20) MB"))
            case .tooSlow: return Self.response(.error(408, "the image did not arrive within \(limits.uploadSeconds) s"))
            }
            return await heavily { api.search(image: bytes, parameters) }
        }

        let application = Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: .seconds(limits.idleSeconds))),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "photosearch",
                                 availableConnectionsDelegate: MaximumAvailableConnections(ServerLimits.connectionLimit())),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                boundPort.withLock { $0 = port }
                listening(configuration.host, port)
            },
            logger: Self.quietLogger())
        try await application.runService()
    }

    static func quietLogger() -> Logger {
        var logger = Logger(label: "photosearch")
        logger.logLevel = .error
        return logger
    }

    /// 503 with Retry-After: every turn is taken.
    static func busy(_ limits: ServerLimits) -> Response {
        var response = response(.error(503, "the server is busy with other requests; try again in a moment"))
        response.headers[.retryAfter] = "\(limits.retryAfterSeconds)"
        return response
    }

    enum Body {
        case complete([UInt8])
        case tooLarge
        case tooSlow
    }

    /// A request body of at most `limit` bytes that arrives within
    /// `seconds` (a client that stops sending altogether is closed by the
    /// idle timeout).
    static func collect(_ body: RequestBody, limit: Int, seconds: Int64) async throws -> Body {
        let deadline = ContinuousClock.now + .seconds(seconds)
        var bytes: [UInt8] = []
        for try await buffer in body {
            guard bytes.count + buffer.readableBytes <= limit else { return .tooLarge }
            guard ContinuousClock.now <= deadline else { return .tooSlow }
            bytes += buffer.readableBytesView
        }
        return .complete(bytes)
    }

    /// The request's query parameters as a form encodes them (`+` is a
    /// space, `%2B` a plus), the first of each name; a pair that is not
    /// valid percent-encoding is a 400 naming it (dropping it would run the
    /// query without that filter).
    static func parameters(_ request: Request) throws -> [String: String] {
        try parameters(query: request.uri.query ?? "")
    }

    static func parameters(query: String) throws -> [String: String] {
        var parameters: [String: String] = [:]
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decoded(_ text: Substring) -> String? { text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
            guard let key = decoded(parts[0]) else {
                throw HTTPError(.badRequest, message: "a query parameter's name is not valid percent-encoding")
            }
            guard let value = decoded(parts.count > 1 ? parts[1] : "") else {
                throw HTTPError(.badRequest, message: "the parameter \(key) is not valid percent-encoding")
            }
            if parameters[key] == nil { parameters[key] = value }
        }
        return parameters
    }

    static func response(_ reply: GalleryAPI.Reply) -> Response {
        var headers: HTTPFields = [.contentType: reply.contentType]
        headers[.cacheControl] = reply.maxAge.map { "private, max-age=\($0)" } ?? "no-store"
        return Response(status: .init(code: reply.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: reply.body)))
    }

    static func asset(_ text: String, _ type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-cache"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// Without a token the server trusts whoever can reach it, which on
/// loopback is this computer; but a web page the user visits can make the
/// browser reach it too, through a DNS name rebound to 127.0.0.1, and such
/// a request names the page's host. Only this server's own names are
/// accepted as Host (421 otherwise), and a POST from a page elsewhere (its
/// Origin) is refused (403).
struct HostCheck<Context: RequestContext>: RouterMiddleware {
    let host: String
    let port: @Sendable () -> Int

    /// The names a browser uses for this server.
    var names: Set<String> {
        var names: Set<String> = ["localhost", "127.0.0.1", "[::1]"]
        names.insert(host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host.lowercased())
        return names
    }

    /// Whether `authority` ("host" or "host:port") names this server.
    func accepts(_ authority: String) -> Bool {
        let lowered = authority.lowercased()
        let port = port()
        return names.contains(lowered) || names.contains { lowered == "\($0):\(port)" }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let authority = request.head.authority else {
            return GalleryServer.response(.error(400, "the request has no Host header"))
        }
        guard accepts(authority) else {
            return GalleryServer.response(.error(421, "this server answers only to localhost, 127.0.0.1 or [::1], not \(authority.prefix(100))"))
        }
        if request.method != .get, request.method != .head, let origin = request.headers[.origin] {
            let scheme = "http://"
            guard origin.hasPrefix(scheme), accepts(String(origin.dropFirst(scheme.count))) else {
                return GalleryServer.response(.error(403, "requests from pages on other sites (\(origin.prefix(100))) are refused"))
            }
        }
        return try await next(request, context)
    }
}

/// Headers on every answer: only the server's own scripts and styles run,
/// nothing may frame the page, and types are never sniffed.
struct SecurityHeaders<Context: RequestContext>: RouterMiddleware {
    static var policy: String {
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
            + "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.contentSecurityPolicy] = Self.policy
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return response
    }
}

/// Whatever the router or a handler throws becomes a JSON error with its
/// status (an unknown route: 404), never an empty 500.
struct ErrorsAsJSON<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            let code = Int(error.status.code)
            let message = code == 404 ? "no such page or API route: \(request.uri.path)" : error.body ?? "\(error.status.reasonPhrase)"
            return GalleryServer.response(.error(code, message))
        } catch let error as HTTPResponseError {
            let code = Int(error.status.code)
            let message = code == 404 ? "no such page or API route: \(request.uri.path)" : "\(error.status.reasonPhrase)"
            return GalleryServer.response(.error(code, message))
        } catch {
            return GalleryServer.response(.error(400, "the request could not be read: \(error)"))
        }
    }
}

/// With a token: every route needs `Authorization: Bearer T` or the cookie;
/// opening `/?token=T` sets the cookie and sends the browser on without
/// the token in its address bar.
struct TokenCheck<Context: RequestContext>: RouterMiddleware {
    let token: String
    static var cookie: String { "photosearch_token" }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path == "/", let offered = try? GalleryServer.parameters(request)["token"] {
            guard Self.equal(offered, token) else { return GalleryServer.response(.error(401, "wrong token")) }
            var headers: HTTPFields = [.location: "/"]
            headers[.setCookie] = "\(Self.cookie)=\(token); Path=/; HttpOnly; SameSite=Strict"
            return Response(status: .seeOther, headers: headers)
        }
        let bearer = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        let cookie = request.cookies[Self.cookie]?.value
        guard [bearer, cookie].contains(where: { $0.map { Self.equal($0, token) } ?? false }) else {
            return GalleryServer.response(.error(401, "this server needs its token: open the address it printed, or send Authorization: Bearer TOKEN"))
        }
        return try await next(request, context)
    }

    /// Compares without stopping at the first difference.
    static func equal(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
