import Foundation
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
public final class ModelDownloader: @unchecked Sendable {
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
    public var attempts = 3

    /// `PHOTOSEARCH_HUB_URL` overrides the hub (tests serve from loopback).
    public init(hub: URL? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.hub = hub ?? environment["PHOTOSEARCH_HUB_URL"].flatMap(URL.init(string:)) ?? URL(string: "https://huggingface.co")!
    }

    public func url(for entry: CatalogueEntry, file: String) -> URL {
        hub.appendingPathComponent(entry.repository).appendingPathComponent("resolve")
            .appendingPathComponent(entry.revision).appendingPathComponent(file)
    }

    public func download(_ entry: CatalogueEntry, into folder: String,
                         progress: @escaping (Progress) -> Void) throws(ModelStoreError) -> Result {
        var result = Result(checksums: [:], commit: nil)
        for file in entry.files {
            let target = folder + "/" + file
            if FileManager.default.fileExists(atPath: target) { continue }   // finished on an earlier run
            let outcome = try fetch(url(for: entry, file: file), to: target, name: file, progress: progress)
            if let checksum = outcome.sha256 { result.checksums[file] = checksum }
            result.commit = result.commit ?? outcome.commit
        }
        return result
    }

    private struct Outcome {
        var sha256: String?
        var commit: String?
    }

    private func fetch(_ url: URL, to target: String, name: String,
                       progress: @escaping (Progress) -> Void) throws(ModelStoreError) -> Outcome {
        let partial = target + ".incomplete"
        var lastError: ModelStoreError?
        for _ in 0..<max(1, attempts) {
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
                let digest = SHA256.hex(response.digest)
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

/// One HTTP GET into a partial file, resuming it with a Range request.
private final class HTTPTransfer: NSObject, URLSessionDataDelegate, @unchecked Sendable {
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
        var digest: [UInt8]
        var receivedAny: Bool
    }

    private let url: URL
    private let partialPath: String
    private let name: String
    private let progress: (ModelDownloader.Progress) -> Void
    private let done = DispatchSemaphore(value: 0)
    private var handle: FileHandle?
    private var hasher = SHA256()
    private var offset: Int64
    private var received: Int64 = 0
    private var total: Int64?
    private var status: Status = .transportError("no response")
    private var linkedSHA256: String?
    private var commit: String?
    private var receivedAny = false
    private let started = Date()
    private var lastReport = Date.distantPast

    init(url: URL, partialPath: String, name: String, progress: @escaping (ModelDownloader.Progress) -> Void) throws {
        self.url = url
        self.partialPath = partialPath
        self.name = name
        self.progress = progress
        offset = ModelDownloader.fileSize(partialPath)
        super.init()
    }

    func run() -> Response {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 60
        configuration.httpAdditionalHeaders = ["User-Agent": "photosearch"]
        let session = URLSession(configuration: configuration, delegate: self, delegateQueue: nil)
        var request = URLRequest(url: url)
        if offset > 0 { request.setValue("bytes=\(offset)-", forHTTPHeaderField: "Range") }
        session.dataTask(with: request).resume()
        done.wait()
        session.finishTasksAndInvalidate()
        try? handle?.close()
        let finalStatus: Status
        if case .finished = status, let total, offset + received < total {
            finalStatus = .transportError("the connection closed after \(offset + received) of \(total) bytes")
        } else {
            finalStatus = status
        }
        return Response(status: finalStatus, expectedSize: total, expectedSHA256: linkedSHA256, commit: commit,
                        digest: hasher.finalize(), receivedAny: receivedAny)
    }

    /// "\"…\"" or W/"…" → …, lower-cased, when it is a SHA-256.
    private static func sha256(fromTag value: String?) -> String? {
        guard var tag = value?.trimmingCharacters(in: .whitespaces) else { return nil }
        if tag.hasPrefix("W/") { tag.removeFirst(2) }
        tag = tag.trimmingCharacters(in: CharacterSet(charactersIn: "\"")).lowercased()
        return tag.count == 64 && tag.allSatisfy(\.isHexDigit) ? tag : nil
    }

    private func remember(_ response: HTTPURLResponse) {
        if let linked = Self.sha256(fromTag: response.value(forHTTPHeaderField: "X-Linked-Etag")) { linkedSHA256 = linked }
        if let size = response.value(forHTTPHeaderField: "X-Linked-Size").flatMap(Int64.init), total == nil { total = size }
        if let repoCommit = response.value(forHTTPHeaderField: "X-Repo-Commit") { commit = repoCommit }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
        // The hub answers /resolve/ for large files with a redirect to its CDN;
        // the redirect carries the file's SHA-256 and size.
        remember(response)
        var next = request
        if offset > 0 { next.setValue("bytes=\(offset)-", forHTTPHeaderField: "Range") }
        completionHandler(next)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        guard let http = response as? HTTPURLResponse else {
            status = .transportError("not an HTTP response")
            completionHandler(.cancel)
            return
        }
        remember(http)
        if linkedSHA256 == nil { linkedSHA256 = Self.sha256(fromTag: http.value(forHTTPHeaderField: "ETag")) }
        let length = http.value(forHTTPHeaderField: "Content-Length").flatMap(Int64.init)
        do {
            switch http.statusCode {
            case 206:
                // Continue the partial file; hash what is already there first.
                total = total ?? http.value(forHTTPHeaderField: "Content-Range")?.split(separator: "/").last.flatMap { Int64($0) }
                    ?? length.map { $0 + offset }
                try hashExisting()
            case 200:
                // A full answer (the server ignored Range, or nothing to resume).
                offset = 0
                total = total ?? length
                FileManager.default.createFile(atPath: partialPath, contents: nil)
            case 416 where offset > 0:
                // Nothing left to send: the partial file is complete.
                total = total ?? offset
                try hashExisting()
                status = .finished
                completionHandler(.cancel)
                return
            default:
                status = .httpError(http.statusCode)
                completionHandler(.cancel)
                return
            }
            handle = try FileHandle(forWritingTo: URL(fileURLWithPath: partialPath))
            try handle?.seekToEnd()
            status = .finished
            completionHandler(.allow)
        } catch {
            status = .transportError(error.localizedDescription)
            completionHandler(.cancel)
        }
    }

    private func hashExisting() throws {
        guard offset > 0 else { return }
        let reader = try FileHandle(forReadingFrom: URL(fileURLWithPath: partialPath))
        defer { try? reader.close() }
        var hashed: Int64 = 0
        while hashed < offset, let chunk = try reader.read(upToCount: 1 << 20), !chunk.isEmpty {
            let usable = chunk.prefix(Int(offset - hashed))
            usable.withUnsafeBytes { hasher.update($0) }
            hashed += Int64(usable.count)
        }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        do {
            try handle?.write(contentsOf: data)
        } catch {
            status = .transportError("cannot write \(partialPath): \(error.localizedDescription)")
            dataTask.cancel()
            return
        }
        data.withUnsafeBytes { hasher.update($0) }
        received += Int64(data.count)
        receivedAny = true
        let now = Date()
        if now.timeIntervalSince(lastReport) > 0.2 || (total.map { offset + received >= $0 } ?? false) {
            lastReport = now
            let seconds = max(now.timeIntervalSince(started), 0.001)
            progress(.init(file: name, receivedBytes: offset + received, totalBytes: total, bytesPerSecond: Double(received) / seconds))
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        if let error, case .finished = status {
            let message = (error as NSError).localizedDescription
            status = .transportError(message.isEmpty ? "\(error)" : message)
        }
        done.signal()
    }
}
