import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PhotoIndex

/// `photosearch serve`: the gallery page and its JSON API over HTTP/1.1
/// (Hummingbird 2), on loopback by default.
public struct GalleryServer: Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// Required from every client when set: `Authorization: Bearer T`,
        /// or the cookie opening `/?token=T` sets.
        public var token: String?

        public init(host: String = "127.0.0.1", port: Int = 8080, token: String? = nil) {
            self.host = host
            self.port = port
            self.token = token
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
        let router = Router()
        router.add(middleware: SecurityHeaders())
        router.add(middleware: ErrorsAsJSON())
        if let token = configuration.token { router.add(middleware: TokenCheck(token: token)) }
        let api = self.api

        router.get("/") { _, _ in Self.asset(GalleryPage.html, "text/html; charset=utf-8") }
        router.get("/app.js") { _, _ in Self.asset(GalleryPage.script, "text/javascript; charset=utf-8") }
        router.get("/app.css") { _, _ in Self.asset(GalleryPage.style, "text/css; charset=utf-8") }

        router.get("/api/status") { _, _ in Self.response(await offload { api.status() }) }
        router.get("/api/search") { request, _ in
            let parameters = Self.parameters(request)
            return Self.response(await offload { api.search(parameters) })
        }
        router.post("/api/search/image") { request, _ in
            let parameters = Self.parameters(request)
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: GalleryAPI.maximumUpload)
            } catch is NIOTooManyBytesError {
                return Self.response(.error(413, "the image is larger than \(GalleryAPI.maximumUpload >> 20) MB"))
            }
            let bytes = Array(body.readableBytesView)
            return Self.response(await offload { api.search(image: bytes, parameters) })
        }
        router.get("/api/similar/:id") { request, context in
            let id = context.parameters.get("id") ?? ""
            let parameters = Self.parameters(request)
            return Self.response(await offload { api.similar(id: id, parameters) })
        }
        router.get("/api/photos/:id") { _, context in
            let id = context.parameters.get("id") ?? ""
            return Self.response(await offload { api.photo(id: id) })
        }
        router.get("/api/photos/:id/thumbnail") { _, context in
            let id = context.parameters.get("id") ?? ""
            return Self.response(await offload { api.thumbnail(id: id) })
        }
        router.get("/api/photos/:id/file") { _, context in
            let id = context.parameters.get("id") ?? ""
            return Self.response(await offload { api.file(id: id) })
        }

        let application = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "photosearch"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
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

    /// The request's query parameters as a form encodes them (`+` is a
    /// space, `%2B` a plus), the first of each name; a pair that is not
    /// valid percent-encoding is dropped.
    static func parameters(_ request: Request) -> [String: String] {
        parameters(query: request.uri.query ?? "")
    }

    static func parameters(query: String) -> [String: String] {
        var parameters: [String: String] = [:]
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decoded(_ text: Substring) -> String? { text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
            guard let key = decoded(parts[0]), let value = decoded(parts.count > 1 ? parts[1] : "") else { continue }
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

/// Runs CPU-bound work (a search, a thumbnail, embedding an upload) on
/// Dispatch's threads, not on Swift concurrency's few cooperative ones.
func offload<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: work()) }
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
        if let offered = GalleryServer.parameters(request)["token"], request.uri.path == "/" {
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
