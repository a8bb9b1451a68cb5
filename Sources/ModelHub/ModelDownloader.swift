import CDownload
import Dispatch
import FileAccess
import Foundation

/// Downloads a catalogued model's files from the Hugging Face Hub
/// (`HUB/REPO/resolve/REVISION/FILE`, redirects followed) into a folder,
/// resumably: each file is written to `FILE.incomplete` and continued with an
/// HTTP Range request after a cut transfer (three tries per run, and from
/// where it stopped on the next run). A large file is checked against the
/// SHA-256 the hub announces for it (`X-Linked-Etag`, or an `ETag` that is
/// a SHA-256) before it is renamed into place. A proxy from the environment
/// (`HTTPS_PROXY`, `https_proxy`, `http_proxy`) is honoured by libcurl,
/// which is loaded only when a download starts.
public struct ModelDownloader: Sendable {
    public struct Progress: Sendable {
        public var file: String
        public var receivedBytes: Int64
        public var totalBytes: Int64?
        public var bytesPerSecond: Double
    }

    /// What was fetched: per file the SHA-256 that was checked (nil when the
    /// hub gave none, as for small files kept in git), and the hub's commit.
    public struct Result: Sendable {
        public var checksums: [String: String]
        public var commit: String?
    }

    public let hub: URL
    /// Tries per file within one run (a cut transfer resumes where it stopped).
    public let attempts: Int
    /// The most one file may be when the hub gives no size (nil: the
    /// model's `byteLimit`).
    public let fileLimit: Int64?

    public init(hub: URL, attempts: Int = 3, fileLimit: Int64? = nil) {
        self.hub = hub
        self.attempts = max(1, attempts)
        self.fileLimit = fileLimit
    }

    /// From huggingface.co, or the hub `PHOTOSEARCH_HUB_URL` names (a
    /// mirror; tests serve from loopback). Set but not an http(s) address
    /// with a host, it is refused: a mistyped mirror fell back to
    /// huggingface.co, sending the requests it was set to keep inside.
    public static func standard(environment: [String: String] = ProcessInfo.processInfo.environment) throws(ModelHubError) -> ModelDownloader {
        guard let value = environment["PHOTOSEARCH_HUB_URL"] else { return ModelDownloader(hub: URL(string: "https://huggingface.co")!) }
        guard let url = URL(string: value), ["http", "https"].contains(url.scheme?.lowercased() ?? ""),
              let host = url.host, !host.isEmpty else { throw .invalidHub(value) }
        return ModelDownloader(hub: url)
    }

    public func url(for entry: CatalogueEntry, file: String) -> URL {
        hub.appendingPathComponent(entry.repository).appendingPathComponent("resolve")
            .appendingPathComponent(entry.revision).appendingPathComponent(file)
    }

    public func download(_ entry: CatalogueEntry, into folder: String,
                         progress: @escaping @Sendable (Progress) -> Void) throws(ModelHubError) -> Result {
        var result = Result(checksums: [:], commit: nil)
        for wanted in entry.files {
            // The file, or where the hub has none (404), its fallback.
            let choices = [wanted] + (entry.fallbacks[wanted].map { [$0] } ?? [])
            if choices.contains(where: { FileManager.default.fileExists(atPath: folder + "/" + $0) }) { continue }   // finished on an earlier run
            for (index, file) in choices.enumerated() {
                let outcome: Outcome
                do {
                    outcome = try fetch(url(for: entry, file: file), to: folder + "/" + file, name: file,
                                        limit: fileLimit ?? Self.byteLimit(entry), progress: progress)
                } catch .notFound where index + 1 < choices.count {
                    continue
                }
                if let checksum = outcome.sha256 { result.checksums[file] = checksum }
                result.commit = result.commit ?? outcome.commit
                break
            }
        }
        return result
    }

    private struct Outcome {
        var sha256: String?
        var commit: String?
    }

    /// The most any one file of `entry` may take when the hub does not say
    /// its size: the whole model's download and a quarter more (the
    /// catalogue's figure is rounded), plus 64 MB. A server that sends no
    /// length and never ends would otherwise fill the disk.
    static func byteLimit(_ entry: CatalogueEntry) -> Int64 {
        entry.downloadBytes + entry.downloadBytes / 4 + (64 << 20)
    }

    private func fetch(_ url: URL, to target: String, name: String, limit: Int64,
                       progress: @escaping @Sendable (Progress) -> Void) throws(ModelHubError) -> Outcome {
        let partial = target + ".incomplete"
        var lastError: ModelHubError?
        for _ in 0..<attempts {
            let response = HTTPTransfer(url: url, hub: hub, partialPath: partial, name: name, limit: limit, progress: progress).run()
            switch response.status {
            case .finished:
                let size = Self.fileSize(partial)
                if let expected = response.expectedSize, size != expected {
                    lastError = .sizeMismatch(file: name, expected: expected, actual: size)
                    continue   // resume from where it stopped
                }
                let digest = response.digest
                if let expected = response.expectedSHA256, expected != digest {
                    try? FileManager.default.removeItem(atPath: partial)
                    throw .checksumMismatch(file: name, expected: expected, actual: digest)
                }
                guard rename(partial, target) == 0 else {
                    throw .fileSystem(path: target, reason: String(cString: strerror(errno)))
                }
                return Outcome(sha256: response.expectedSHA256 == nil ? nil : digest, commit: response.commit)
            case let .httpError(code):
                try? FileManager.default.removeItem(atPath: partial)
                if code == 404 { throw .notFound(url: url.absoluteString) }
                throw .httpStatus(url: url.absoluteString, status: code)
            case let .refused(error):
                // Past its size, or not written (a full disk): trying again
                // at once would do the same.
                throw error
            case let .transportError(reason):
                lastError = .cannotReach(url: url.absoluteString, reason: reason)
                // A connection refused or a name that does not resolve will not
                // get better by retrying at once; a cut transfer may.
                if Self.fileSize(partial) == 0 && response.receivedAny == false { throw lastError! }
            }
        }
        throw lastError ?? .cannotReach(url: url.absoluteString, reason: "the transfer did not complete")
    }

    /// "scheme://host:port" of `url`, lower-cased, the scheme's default
    /// port when none is given (https://huggingface.co:443 is
    /// https://huggingface.co).
    static func origin(of url: URL) -> String {
        let scheme = url.scheme?.lowercased() ?? ""
        let port = url.port ?? (scheme == "https" ? 443 : scheme == "http" ? 80 : 0)
        return "\(scheme)://\(url.host?.lowercased() ?? ""):\(port)"
    }

    /// Whether a Location value leads to `origin`: a path on the same
    /// server, or an absolute URL of that origin.
    static func sameOrigin(_ location: String, as origin: String) -> Bool {
        if location.hasPrefix("/") && !location.hasPrefix("//") { return true }
        guard let target = URL(string: location), target.scheme != nil else { return false }
        return Self.origin(of: target) == origin
    }

    static func fileSize(_ path: String) -> Int64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
    }
}

/// One HTTP GET into a partial file, resuming it with a Range request, over
/// libcurl (`CDownload`, loaded on first use). libcurl calls the header and body
/// callbacks on the calling thread while `run` waits in `ps_http_get`.
private final class HTTPTransfer {
    enum Status {
        case finished
        case httpError(Int)
        case transportError(String)
        /// Stopped for good: more than the file may be, or it cannot be written.
        case refused(ModelHubError)
    }

    struct Response {
        var status: Status
        var expectedSize: Int64?
        var expectedSHA256: String?
        var commit: String?
        /// SHA-256 of the whole partial file, hex.
        var digest: String
        var receivedAny: Bool
    }

    private let url: URL
    private let partialPath: String
    private let name: String
    /// The most the file may be when no size comes from the hub.
    private let limit: Int64
    /// Whether the response whose headers are arriving comes from the hub
    /// itself (`hubOrigin`): only the hub's own answers say what the file
    /// must be (its SHA-256, its size, the commit). A redirect's target, a
    /// CDN on another host, could otherwise vouch for what it sends.
    private let hubOrigin: String
    private var fromHub = true
    private let progress: @Sendable (ModelDownloader.Progress) -> Void
    private let started = DispatchTime.now()
    private var handle: FileHandle?
    private let hasher = SHA256()
    private var offset: Int64
    private var received: Int64 = 0
    private var total: Int64?
    /// The size the hub itself gave (`fromHub`), which `total` starts from.
    private var announced: Int64?
    private var status: Status = .transportError("no response")
    private var linkedSHA256: String?
    private var commit: String?
    private var receivedAny = false
    private var lastReport: UInt64 = 0
    /// The response whose headers are arriving: its status, its headers.
    private var responseCode = 0
    private var headers: [String: String] = [:]

    init(url: URL, hub: URL, partialPath: String, name: String, limit: Int64,
         progress: @escaping @Sendable (ModelDownloader.Progress) -> Void) {
        self.url = url
        self.partialPath = partialPath
        self.name = name
        self.limit = limit
        hubOrigin = ModelDownloader.origin(of: hub)
        self.progress = progress
        offset = ModelDownloader.fileSize(partialPath)
    }

    func run() -> Response {
        guard let hasher else {
            return Response(status: .transportError("libcrypto.so.3, which checks downloads, could not be loaded (Debian's package libssl3)"),
                            expectedSize: nil, expectedSHA256: nil, commit: nil, digest: "", receivedAny: false)
        }
        var callbacks = ps_http_callbacks(
            context: Unmanaged.passUnretained(self).toOpaque(),
            header: { context, line, length in
                Unmanaged<HTTPTransfer>.fromOpaque(context!).takeUnretainedValue()
                    .header(String(decoding: UnsafeRawBufferPointer(start: line, count: length), as: UTF8.self))
            },
            body: { context, data, length in
                Unmanaged<HTTPTransfer>.fromOpaque(context!).takeUnretainedValue().body(UnsafeRawBufferPointer(start: data, count: length))
            })
        var code = 0
        var message = [CChar](repeating: 0, count: 512)
        let outcome = withExtendedLifetime(self) {
            ps_http_get(url.absoluteString, offset, "photosearch", 60, &callbacks, &code, &message, message.count)
        }
        try? handle?.close()
        handle = nil
        let reason = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        switch Int32(outcome) {
        case Int32(PS_HTTP_OK), Int32(PS_HTTP_STOPPED):
            break
        default:
            // A transport error; an HTTP error decided from the headers stands.
            if case .httpError = status {} else { status = .transportError(reason) }
        }
        if case .finished = status, let total, offset + received < total {
            status = .transportError("the connection closed after \(offset + received) of \(total) bytes")
        }
        return Response(status: status, expectedSize: total, expectedSHA256: linkedSHA256, commit: commit,
                        digest: hasher.finalize(), receivedAny: receivedAny)
    }

    /// One header line of any response (redirects included). Returns
    /// nonzero to stop the transfer.
    private func header(_ line: String) -> Int32 {
        let text = line.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.hasPrefix("HTTP/") {
            // A new response begins: still the hub's while every redirect so
            // far led to the hub's own origin.
            if responseCode != 0, let location = headers["location"] {
                fromHub = fromHub && ModelDownloader.sameOrigin(location, as: hubOrigin)
            }
            responseCode = text.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            headers = [:]
            return 0
        }
        if let colon = text.firstIndex(of: ":") {
            let field = text[..<colon].lowercased(), value = text[text.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers[field] = value
            // The hub answers /resolve/ for large files with a redirect to its
            // CDN; the redirect carries the file's SHA-256 and size.
            guard fromHub else { return 0 }
            if field == "x-linked-etag", let sha = Self.sha256(fromTag: value) { linkedSHA256 = sha }
            if field == "x-linked-size", let size = Int64(value), total == nil { (total, announced) = (size, size) }
            if field == "x-repo-commit" { commit = value }
            return 0
        }
        guard text.isEmpty, !(300..<400).contains(responseCode) || headers["location"] == nil else { return 0 }
        // The end of the headers of the response whose body follows.
        return decide()
    }

    private func decide() -> Int32 {
        if linkedSHA256 == nil, fromHub { linkedSHA256 = Self.sha256(fromTag: headers["etag"]) }
        let length = headers["content-length"].flatMap(Int64.init)
        do {
            switch responseCode {
            case 206:
                // Continue the partial file; hash what is already there first.
                total = total ?? headers["content-range"]?.split(separator: "/").last.flatMap { Int64($0) } ?? length.map { $0 + offset }
                try hashExisting()
            case 200:
                // A full answer (the server ignored Range, or nothing to resume).
                offset = 0
                total = total ?? length
                _ = FileManager.default.createFile(atPath: partialPath, contents: nil)
            case 416 where offset > 0:
                // Nothing left to send: the partial file is complete.
                total = total ?? offset
                try hashExisting()
                status = .finished
                return 1
            default:
                status = .httpError(responseCode)
                return 1
            }
            handle = try FileHandle(forWritingTo: URL(fileURLWithPath: partialPath))
            try handle?.seekToEnd()
            status = .finished
            return 0
        } catch {
            status = .transportError(error.localizedDescription)
            return 1
        }
    }

    private func hashExisting() throws {
        guard offset > 0 else { return }
        let reader = try FileHandle(forReadingFrom: URL(fileURLWithPath: partialPath))
        defer { try? reader.close() }
        var hashed: Int64 = 0
        while hashed < offset, let chunk = try reader.read(upToCount: 1 << 20), !chunk.isEmpty {
            let usable = chunk.prefix(Int(offset - hashed))
            usable.withUnsafeBytes { hasher?.update($0) }
            hashed += Int64(usable.count)
        }
    }

    /// Body bytes of the final response. Returns nonzero to stop.
    private func body(_ data: UnsafeRawBufferPointer) -> Int32 {
        guard let handle else { return 1 }
        // No more than the hub said, or than any file of the model can be
        // (whatever length another server claims).
        let most = announced ?? limit
        if offset + received + Int64(data.count) > most {
            try? FileManager.default.removeItem(atPath: partialPath)
            status = .refused(announced == nil
                ? .fileSystem(path: name, reason: "the server sent more than \(most) bytes, more than the whole model; it was deleted and nothing was installed")
                : .sizeMismatch(file: name, expected: most, actual: offset + received + Int64(data.count)))
            return 1
        }
        do {
            try handle.write(contentsOf: Data(data))
        } catch {
            // (The installer deletes the partial download: the space it took is freed.)
            let error = error as NSError
            let full = error.code == NSFileWriteOutOfSpaceError || (error.domain == NSPOSIXErrorDomain && error.code == Int(ENOSPC))
            status = .refused(.fileSystem(path: FilePaths.deletingLastComponent(partialPath),
                                          reason: full ? "the disk is full; nothing was installed" : "cannot write \(name): \(error.localizedDescription)"))
            return 1
        }
        hasher?.update(data)
        received += Int64(data.count)
        receivedAny = true
        let now = DispatchTime.now().uptimeNanoseconds
        let complete = total.map { offset + received >= $0 } ?? false
        guard now - lastReport > 200_000_000 || complete else { return 0 }
        lastReport = now
        let seconds = max(Double(now - started.uptimeNanoseconds) / 1e9, 0.001)
        progress(.init(file: name, receivedBytes: offset + received, totalBytes: total, bytesPerSecond: Double(received) / seconds))
        return 0
    }

    /// "\"…\"" or W/"…" → …, lower-cased, when it is a SHA-256.
    private static func sha256(fromTag value: String?) -> String? {
        guard var tag = value?.trimmingCharacters(in: .whitespaces) else { return nil }
        if tag.hasPrefix("W/") { tag.removeFirst(2) }
        tag = tag.trimmingCharacters(in: CharacterSet(charactersIn: "\"")).lowercased()
        return tag.count == 64 && tag.allSatisfy(\.isHexDigit) ? tag : nil
    }
}
