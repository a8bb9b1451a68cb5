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

    /// Whether `token` may be a token: 16 to 256 letters, digits or `-_.~`
    /// (what a URL's query carries as it is).
    public static func isValidToken(_ token: String) -> Bool {
        (16...256).contains(token.count) && token.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.~".contains($0)) }
    }

    /// A token for a server reachable from other computers: 128 random bits, hex.
    public static func makeToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// The server: the gallery's routes behind its checks, bound to the
    /// configured address when run; `listening` gets the address it is
    /// bound to (the real port when 0 was asked for).
    public func application(listening: @escaping @Sendable (String, Int) -> Void = { _, _ in }) -> some ApplicationProtocol {
        let limits = configuration.limits
        let heavy = WorkLimiter(name: "heavy", running: limits.heavyRunning, waiting: limits.heavyWaiting)
        let uploads = WorkLimiter(name: "uploads", running: limits.concurrentUploads, waiting: 0)
        let boundPort = Mutex(configuration.port)
        // HEAD, which HTTP servers must answer (RFC 9110 9.1): each GET
        // route's headers, Content-Length included, and no body.
        let router = Router(context: GalleryContext.self, options: .autoGenerateHeadEndpoints)
        router.add(middleware: SecurityHeaders())
        router.add(middleware: ErrorsAsJSON())
        if let token = configuration.token {
            router.add(middleware: TokenCheck(token: token))
        } else {
            router.add(middleware: HostCheck(host: configuration.host, port: { boundPort.withLock { $0 } }))
        }
        let api = self.api
        /// A heavy route's answer, made on the limiter's threads in its
        /// turn; 503 when every turn is taken.
        @Sendable func heavily<T: Sendable>(_ work: @escaping @Sendable () throws(HTTPError) -> T) async throws(HTTPError) -> T {
            guard let result = await heavy.run({ Result { () throws(HTTPError) in try work() } }) else { throw Self.busy(limits) }
            return try result.get()
        }

        router.get("/") { _, _ in Asset.page }
        router.get("/app.js") { _, _ in Asset.script }
        router.get("/app.css") { _, _ in Asset.style }

        // Cheap routes (a few indexed SQLite reads) answer inline.
        router.get("/api/status") { _, _ in
            try api.status(busy: .init(heavy: heavy.active, waiting: heavy.waitingCount, uploads: uploads.active))
        }
        router.get("/api/places") { request, _ in
            try api.places(try Self.parameters(request))
        }
        router.get("/api/months") { _, _ in
            try api.months()
        }
        router.get("/api/photos/:id") { _, context in
            try api.photo(id: context.parameters.get("id") ?? "")
        }
        router.get("/api/photos/:id/thumbnail") { _, context in
            let id = context.parameters.get("id") ?? ""
            if let stored = try api.storedThumbnail(id: id) { return stored }
            return try await heavily { () throws(HTTPError) in try api.thumbnail(id: id) }
        }
        // Heavy ones (encoding a query, scanning vectors, reading a photo) take turns.
        router.get("/api/search") { request, _ in
            let parameters = try Self.parameters(request)
            return try await heavily { () throws(HTTPError) in try api.search(parameters) }
        }
        router.get("/api/timeline") { request, _ in
            let parameters = try Self.parameters(request)
            return try await heavily { () throws(HTTPError) in try api.timeline(parameters) }
        }
        router.get("/api/similar/:id") { request, context in
            let id = context.parameters.get("id") ?? ""
            let parameters = try Self.parameters(request)
            return try await heavily { () throws(HTTPError) in try api.similar(id: id, parameters) }
        }
        router.get("/api/photos/:id/file") { _, context in
            let id = context.parameters.get("id") ?? ""
            return try await heavily { () throws(HTTPError) in try api.file(id: id) }
        }
        router.post("/api/search/image") { request, context in
            let parameters = try Self.parameters(request)
            // Too large by its own account: said at once, not once 30 MB of it
            // have come, and the connection closed after the answer (the
            // server would otherwise read the rest, to discard it).
            if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > PhotoLibrary.maximumImageBytes {
                context.channel.close(mode: .input, promise: nil)
                throw Self.tooLarge(limit: PhotoLibrary.maximumImageBytes)
            }
            // A turn before the body is read: at most `concurrentUploads`
            // bodies are held at once.
            guard await uploads.enter() else { throw Self.busy(limits) }
            defer { uploads.leave() }
            let bytes = try await Self.collect(request.body, limit: PhotoLibrary.maximumImageBytes, seconds: limits.uploadSeconds)
            // In the upload's own turn, not a heavy one (see `concurrentUploads`).
            return try await WorkLimiter.onThread("upload") { Result { () throws(HTTPError) in try api.search(image: bytes, parameters) } }.get()
        }

        let connections = ServerLimits.connectionLimit()
        let drain = ConnectionDrain(limit: connections)
        return Application(
            router: router,
            server: .http1(configuration: .init(additionalChannelHandlers: [drain.handler()], idleTimeout: .seconds(limits.idleSeconds))),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "photosearch",
                                 availableConnectionsDelegate: MaximumAvailableConnections(connections)),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                boundPort.withLock { $0 = port }
                listening(configuration.host, port)
            },
            logger: Self.quietLogger())
    }

    /// Serves until SIGTERM, SIGINT when `stopOnInterrupt`, or SIGHUP (a
    /// closed terminal) when `stopOnHangup`, each a graceful stop; `listening` gets the address
    /// it is bound to (the real port when 0 was asked for).
    public func run(stopOnHangup: Bool = false, stopOnInterrupt: Bool = true,
                    listening: @escaping @Sendable (String, Int) -> Void) async throws {
        try await application(listening: listening)
            .runService(gracefulShutdownSignals: [.sigterm] + (stopOnInterrupt ? [.sigint] : []) + (stopOnHangup ? [.sighup] : []))
    }

    static func quietLogger() -> Logger {
        var logger = Logger(label: "photosearch")
        logger.logLevel = .error
        return logger
    }

    /// 503 with Retry-After: every turn is taken.
    static func busy(_ limits: ServerLimits) -> HTTPError {
        HTTPError(.serviceUnavailable, headers: [.retryAfter: "\(limits.retryAfterSeconds)"],
                  message: "the server is busy with other requests; try again in a moment")
    }

    /// 413: an upload over `limit` bytes.
    static func tooLarge(limit: Int) -> HTTPError {
        HTTPError(.contentTooLarge, message: "the image is larger than \(limit >> 20) MB")
    }

    /// A request body of at most `limit` bytes that arrives within `seconds`
    /// (413 and 408 otherwise; a client that stops sending altogether is
    /// closed by the idle timeout).
    static func collect(_ body: RequestBody, limit: Int, seconds: Int64) async throws -> [UInt8] {
        let deadline = ContinuousClock.now + .seconds(seconds)
        var bytes: [UInt8] = []
        for try await buffer in body {
            guard bytes.count + buffer.readableBytes <= limit else { throw tooLarge(limit: limit) }
            guard ContinuousClock.now <= deadline else {
                throw HTTPError(.requestTimeout, message: "the image did not arrive within \(seconds) s")
            }
            bytes += buffer.readableBytesView
        }
        return bytes
    }

    /// The request's query parameters as a form encodes them (`+` is a
    /// space, `%2B` a plus); a pair that is not valid percent-encoding is a
    /// 400 naming it (dropping it would run the query without that filter).
    static func parameters(_ request: Request) throws(HTTPError) -> QueryParameters {
        try parameters(query: request.uri.query ?? "")
    }

    static func parameters(query: String) throws(HTTPError) -> QueryParameters {
        var parameters = QueryParameters()
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decoded(_ text: Substring) -> String? { text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
            guard let key = decoded(parts[0]) else {
                throw HTTPError(.badRequest, message: "a query parameter's name is not valid percent-encoding")
            }
            guard let value = decoded(parts.count > 1 ? parts[1] : "") else {
                throw HTTPError(.badRequest, message: "the parameter \(key) is not valid percent-encoding")
            }
            parameters.values[key, default: []].append(value)
        }
        // One value each: which of two would be meant is anyone's guess.
        for name in QueryParameters.single where parameters.values[name].map({ $0.count > 1 }) ?? false {
            throw HTTPError(.badRequest, message: "the parameter \(name) is given more than once")
        }
        return parameters
    }
}

/// A request's query parameters: the first value of a name, or all of a
/// repeatable one (`place=Lisbon&place=Porto`).
struct QueryParameters: Sendable, ExpressibleByDictionaryLiteral {
    fileprivate(set) var values: [String: [String]] = [:]

    init() {}

    init(dictionaryLiteral elements: (String, String)...) {
        for (key, value) in elements { values[key, default: []].append(value) }
    }

    /// The parameters that take one value (refused when repeated).
    static let single = ["q", "top", "offset", "min_score", "min_probability", "probes", "after", "before", "in", "near", "sort", "cursor"]

    subscript(name: String) -> String? { values[name]?.first }

    func all(_ name: String) -> [String] { values[name] ?? [] }
}

/// Each request's context: Hummingbird's basic one, writing the API's
/// answers with `GalleryAPI.encoder()`.
public struct GalleryContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The request's connection (closed early after some refusals).
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    public var responseEncoder: JSONEncoder { GalleryAPI.encoder() }
}

/// The page and its script and style, which the browser checks again each
/// time (they change with photosearch): by their tag, a hash of their
/// bytes, so that an unchanged one is a 304 with no body, not 43 KB again
/// on every visit.
struct Asset: ResponseGenerator, Sendable {
    let bytes: ByteBuffer
    let contentType: String
    /// A strong entity tag, quoted.
    let tag: String

    init(text: String, contentType: String) {
        bytes = ByteBuffer(string: text)
        self.contentType = contentType
        tag = "\"" + String(format: "%016llx", FNV1a.hash(text.utf8)) + "\""
    }

    static let page = Asset(text: GalleryPage.html, contentType: "text/html; charset=utf-8")
    static let script = Asset(text: GalleryPage.script, contentType: "text/javascript; charset=utf-8")
    static let style = Asset(text: GalleryPage.style, contentType: "text/css; charset=utf-8")

    func response(from request: Request, context: some RequestContext) -> Response {
        let headers: HTTPFields = [.contentType: contentType, .cacheControl: "no-cache", .eTag: tag]
        // If-None-Match: a list of tags, weak ones ("W/") compared weakly, as
        // RFC 9110 says for this header, or "*".
        let offered = request.headers[values: .ifNoneMatch].flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        if offered.contains(where: { $0 == "*" || $0 == tag || $0 == "W/" + tag }) {
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: bytes))
    }
}

/// The 64-bit FNV-1a hash: names and tags that only need to tell things
/// apart (no secret depends on it).
enum FNV1a {
    static func hash(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
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
            throw HTTPError(.badRequest, message: "the request has no Host header")
        }
        // The first Host became the authority; any other is still a field (RFC 9112: 400).
        guard !request.headers.contains(where: { $0.name.canonicalName == "host" }) else {
            throw HTTPError(.badRequest, message: "the request has more than one Host header")
        }
        guard accepts(authority) else {
            throw HTTPError(.misdirectedRequest, message: "this server answers only to localhost, 127.0.0.1 or [::1], not \(authority.prefix(100))")
        }
        if request.method != .get, request.method != .head, let origin = request.headers[.origin] {
            let scheme = "http://"
            guard origin.hasPrefix(scheme), accepts(String(origin.dropFirst(scheme.count))) else {
                throw HTTPError(.forbidden, message: "requests from pages on other sites (\(origin.prefix(100))) are refused")
            }
        }
        return try await next(request, context)
    }
}

/// Headers on every answer: only the server's own scripts and styles run,
/// nothing may frame the page, types are never sniffed, and an answer that
/// says nothing of caching (the API's JSON) is not cached.
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
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
        return response
    }
}

/// Whatever the router, a check or a handler throws becomes a JSON error,
/// `{"error":"…"}`, with its status and headers (an unknown route: 404),
/// never an empty 500.
struct ErrorsAsJSON<Context: RequestContext>: RouterMiddleware {
    struct Body: Encodable { let error: String }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            let message = error.status == .notFound && error.body == nil ? nil : error.body
            return Self.response(error.status, headers: error.headers, message: message, path: request.uri.path)
        } catch let error as HTTPResponseError {
            return Self.response(error.status, headers: [:], message: nil, path: request.uri.path)
        } catch {
            return Self.response(.badRequest, headers: [:], message: "the request could not be read: \(error)", path: request.uri.path)
        }
    }

    static func response(_ status: HTTPResponse.Status, headers: HTTPFields, message: String?, path: String) -> Response {
        let text = message ?? (status == .notFound ? "no such page or API route: \(path)" : status.reasonPhrase)
        let body = (try? GalleryAPI.encoder().encode(Body(error: text))) ?? Data(#"{"error":"cannot encode the answer"}"#.utf8)
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body)))
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
            guard Self.equal(offered, token) else { throw HTTPError(.unauthorized, message: "wrong token") }
            // On to the same page without the token (however its name is
            // encoded): a bookmarked search keeps its query.
            let rest = (request.uri.query ?? "").split(separator: "&").filter { pair in
                let name = pair.prefix { $0 != "=" }.replacingOccurrences(of: "+", with: " ")
                return (name.removingPercentEncoding ?? name) != "token"
            }.joined(separator: "&")
            var headers: HTTPFields = [.location: rest.isEmpty ? "/" : "/?" + rest]
            // Lax, not Strict: a link to a search or a photo followed from
            // another site (a chat, a mail) opens with the cookie. (Its
            // POSTs are still refused by their Origin, and no GET changes
            // anything.) Kept a year: the token is the server's, not the visit's.
            headers[.setCookie] = "\(Self.cookie)=\(token); Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax"
            return Response(status: .seeOther, headers: headers)
        }
        // (The scheme's name in any case, as RFC 9110 has it.)
        let bearer = request.headers[.authorization].flatMap { $0.lowercased().hasPrefix("bearer ") ? String($0.dropFirst(7)) : nil }
        let cookie = request.cookies[Self.cookie]?.value
        guard [bearer, cookie].contains(where: { $0.map { Self.equal($0, token) } ?? false }) else {
            // A browser opening the page gets a page saying what to do, not JSON.
            if request.uri.path == "/", request.headers[.accept]?.contains("text/html") == true {
                return Response(status: .unauthorized, headers: [.contentType: "text/html; charset=utf-8"],
                                body: .init(byteBuffer: ByteBuffer(string: Self.page)))
            }
            throw HTTPError(.unauthorized, message: "this server needs its token: open the address it printed, or send Authorization: Bearer TOKEN")
        }
        return try await next(request, context)
    }

    static var page: String {
        """
        <!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">\
        <title>photosearch: the link with the token is needed</title></head><body><h1>This gallery needs its link</h1>\
        <p>Open the address <code>photosearch serve</code> printed, the one ending in <code>?token=…</code>, once on this \
        device: it is remembered for a year (until the server gets another token).</p></body></html>
        """
    }

    /// Compares without stopping at the first difference.
    static func equal(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
