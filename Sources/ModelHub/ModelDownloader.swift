import FileAccess
import Foundation
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Downloads a catalogued model's files from the Hugging Face Hub
/// (`HUB/REPO/resolve/REVISION/FILE`, redirects followed) into a folder,
/// resumably: each file is written to `FILE.incomplete` and continued with an
/// HTTP Range request after a cut transfer (three tries per run, and from
/// where it stopped on the next run). A large file is checked against the
/// SHA-256 the hub announces for it (`X-Linked-Etag`, or an `ETag` that is
/// a SHA-256) before it is renamed into place. A proxy from the environment
/// (`HTTPS_PROXY`, `https_proxy`, `http_proxy`) is honoured by libcurl.
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

    /// `PHOTOSEARCH_HUB_URL` overrides the hub (tests serve from loopback).
    public init(hub: URL? = nil, attempts: Int = 3, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.hub = hub ?? environment["PHOTOSEARCH_HUB_URL"].flatMap(URL.init(string:)) ?? URL(string: "https://huggingface.co")!
        self.attempts = max(1, attempts)
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
                    outcome = try fetch(url(for: entry, file: file), to: folder + "/" + file, name: file, progress: progress)
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

    private func fetch(_ url: URL, to target: String, name: String,
                       progress: @escaping @Sendable (Progress) -> Void) throws(ModelHubError) -> Outcome {
        let partial = target + ".incomplete"
        var lastError: ModelHubError?
        for _ in 0..<attempts {
            let transfer: HTTPTransfer
            do {
                transfer = try HTTPTransfer(url: url, partialPath: partial, name: name, progress: progress)
            } catch {
                throw .fileSystem(path: partial, reason: error.localizedDescription)
            }
            let response = transfer.run()
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
            case let .transportError(reason):
                lastError = .cannotReach(url: url.absoluteString, reason: reason)
                // A connection refused or a name that does not resolve will not
                // get better by retrying at once; a cut transfer may.
                if Self.fileSize(partial) == 0 && response.receivedAny == false { throw lastError! }
            }
        }
        throw lastError ?? .cannotReach(url: url.absoluteString, reason: "the transfer did not complete")
    }

    static func fileSize(_ path: String) -> Int64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
    }
}

/// One HTTP GET into a partial file, resuming it with a Range request. The
/// session calls the delegate methods one at a time on its own queue while
/// `run` waits; the state they share lives in a mutex all the same.
private final class HTTPTransfer: NSObject, URLSessionDataDelegate, Sendable {
    enum Status {
        case finished
        case httpError(Int)
        case transportError(String)
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

    private struct State {
        var handle: FileHandle?
        var hasher = SHA256()
        var offset: Int64
        var received: Int64 = 0
        var total: Int64?
        var status: Status = .transportError("no response")
        var linkedSHA256: String?
        var commit: String?
        var receivedAny = false
        var lastReport = Date.distantPast
    }

    private let url: URL
    private let partialPath: String
    private let name: String
    private let progress: @Sendable (ModelDownloader.Progress) -> Void
    private let done = DispatchSemaphore(value: 0)
    private let started = Date()
    private let state: Mutex<State>

    init(url: URL, partialPath: String, name: String, progress: @escaping @Sendable (ModelDownloader.Progress) -> Void) throws {
        self.url = url
        self.partialPath = partialPath
        self.name = name
        self.progress = progress
        state = Mutex(State(offset: ModelDownloader.fileSize(partialPath)))
        super.init()
    }

    func run() -> Response {
        HTTPTransfer.keepFoundationOutOfDataFolder
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 60
        configuration.httpAdditionalHeaders = ["User-Agent": "photosearch"]
        // No cookies, cache or credentials: a download needs none.
        configuration.httpCookieStorage = nil
        configuration.httpCookieAcceptPolicy = .never
        configuration.httpShouldSetCookies = false
        configuration.urlCache = nil
        configuration.urlCredentialStorage = nil
        let session = URLSession(configuration: configuration, delegate: self, delegateQueue: nil)
        var request = URLRequest(url: url)
        let offset = state.withLock { $0.offset }
        if offset > 0 { request.setValue("bytes=\(offset)-", forHTTPHeaderField: "Range") }
        session.dataTask(with: request).resume()
        done.wait()
        session.finishTasksAndInvalidate()
        return state.withLock { state in
            try? state.handle?.close()
            state.handle = nil
            var status = state.status
            if case .finished = status, let total = state.total, state.offset + state.received < total {
                status = .transportError("the connection closed after \(state.offset + state.received) of \(total) bytes")
            }
            return Response(status: status, expectedSize: state.total, expectedSHA256: state.linkedSHA256, commit: state.commit,
                            digest: state.hasher.finalize(), receivedAny: state.receivedAny)
        }
    }

    /// Foundation's URLSessionConfiguration creates its shared cookie store,
    /// even for an ephemeral session, as an empty folder in the user's data
    /// directory named after the executable's folder ("bin", "release";
    /// swift-corelibs-foundation, HTTPCookieStorage.init). Evaluated once
    /// before the first session: the folder is removed again when it did not
    /// exist before and is still empty. (It once pointed XDG_DATA_HOME
    /// elsewhere for an instant, which other threads could have read.)
    static let keepFoundationOutOfDataFolder: Void = {
        var executableFolder = FilePaths.lastComponent(Bundle.main.bundlePath)
        if let dot = executableFolder.lastIndex(of: ".") { executableFolder = String(executableFolder[..<dot]) }
        guard !executableFolder.isEmpty, let support = FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask).first else {
            _ = URLSessionConfiguration.ephemeral
            return
        }
        let folder = support.appendingPathComponent(executableFolder).path
        let existed = FileManager.default.fileExists(atPath: folder)
        _ = URLSessionConfiguration.ephemeral
        if !existed { _ = FilePaths.withFileSystemRepresentation(folder) { rmdir($0) } }   // only an empty folder goes
    }()

    /// "\"…\"" or W/"…" → …, lower-cased, when it is a SHA-256.
    private static func sha256(fromTag value: String?) -> String? {
        guard var tag = value?.trimmingCharacters(in: .whitespaces) else { return nil }
        if tag.hasPrefix("W/") { tag.removeFirst(2) }
        tag = tag.trimmingCharacters(in: CharacterSet(charactersIn: "\"")).lowercased()
        return tag.count == 64 && tag.allSatisfy(\.isHexDigit) ? tag : nil
    }

    private static func remember(_ response: HTTPURLResponse, in state: inout State) {
        if let linked = sha256(fromTag: response.value(forHTTPHeaderField: "X-Linked-Etag")) { state.linkedSHA256 = linked }
        if let size = response.value(forHTTPHeaderField: "X-Linked-Size").flatMap(Int64.init), state.total == nil { state.total = size }
        if let repoCommit = response.value(forHTTPHeaderField: "X-Repo-Commit") { state.commit = repoCommit }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
        // The hub answers /resolve/ for large files with a redirect to its CDN;
        // the redirect carries the file's SHA-256 and size.
        let offset = state.withLock { state in
            Self.remember(response, in: &state)
            return state.offset
        }
        var next = request
        if offset > 0 { next.setValue("bytes=\(offset)-", forHTTPHeaderField: "Range") }
        completionHandler(next)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        guard let http = response as? HTTPURLResponse else {
            state.withLock { $0.status = .transportError("not an HTTP response") }
            completionHandler(.cancel)
            return
        }
        let disposition: URLSession.ResponseDisposition = state.withLock { state in
            Self.remember(http, in: &state)
            if state.linkedSHA256 == nil { state.linkedSHA256 = Self.sha256(fromTag: http.value(forHTTPHeaderField: "ETag")) }
            let length = http.value(forHTTPHeaderField: "Content-Length").flatMap(Int64.init)
            do {
                switch http.statusCode {
                case 206:
                    // Continue the partial file; hash what is already there first.
                    state.total = state.total
                        ?? http.value(forHTTPHeaderField: "Content-Range")?.split(separator: "/").last.flatMap { Int64($0) }
                        ?? length.map { $0 + state.offset }
                    try hashExisting(&state)
                case 200:
                    // A full answer (the server ignored Range, or nothing to resume).
                    state.offset = 0
                    state.total = state.total ?? length
                    _ = FileManager.default.createFile(atPath: partialPath, contents: nil)
                case 416 where state.offset > 0:
                    // Nothing left to send: the partial file is complete.
                    state.total = state.total ?? state.offset
                    try hashExisting(&state)
                    state.status = .finished
                    return .cancel
                default:
                    state.status = .httpError(http.statusCode)
                    return .cancel
                }
                state.handle = try FileHandle(forWritingTo: URL(fileURLWithPath: partialPath))
                try state.handle?.seekToEnd()
                state.status = .finished
                return .allow
            } catch {
                state.status = .transportError(error.localizedDescription)
                return .cancel
            }
        }
        completionHandler(disposition)
    }

    private func hashExisting(_ state: inout State) throws {
        guard state.offset > 0 else { return }
        let reader = try FileHandle(forReadingFrom: URL(fileURLWithPath: partialPath))
        defer { try? reader.close() }
        var hashed: Int64 = 0
        while hashed < state.offset, let chunk = try reader.read(upToCount: 1 << 20), !chunk.isEmpty {
            let usable = chunk.prefix(Int(state.offset - hashed))
            usable.withUnsafeBytes { state.hasher.update($0) }
            hashed += Int64(usable.count)
        }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let report: ModelDownloader.Progress? = state.withLock { state in
            do {
                try state.handle?.write(contentsOf: data)
            } catch {
                state.status = .transportError("cannot write \(partialPath): \(error.localizedDescription)")
                dataTask.cancel()
                return nil
            }
            data.withUnsafeBytes { state.hasher.update($0) }
            state.received += Int64(data.count)
            state.receivedAny = true
            let now = Date()
            let complete = state.total.map { state.offset + state.received >= $0 } ?? false
            guard now.timeIntervalSince(state.lastReport) > 0.2 || complete else { return nil }
            state.lastReport = now
            let seconds = max(now.timeIntervalSince(started), 0.001)
            return .init(file: name, receivedBytes: state.offset + state.received, totalBytes: state.total,
                         bytesPerSecond: Double(state.received) / seconds)
        }
        if let report { progress(report) }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        if let error {
            state.withLock { state in
                if case .finished = state.status {
                    let message = (error as NSError).localizedDescription
                    state.status = .transportError(message.isEmpty ? "\(error)" : message)
                }
            }
        }
        done.signal()
    }
}
