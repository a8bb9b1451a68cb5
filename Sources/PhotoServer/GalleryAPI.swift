import FileAccess
import Foundation
import Imaging
import PhotoIndex

/// The JSON API's requests and answers, independent of the HTTP server:
/// each function takes what a request carries (strings from strangers) and
/// returns a status and a body, validating everything first.
public struct GalleryAPI: Sendable {
    public let library: PhotoLibrary
    /// What the server's own indexing is doing (nil: it does not index).
    let indexing: IndexingState?

    public init(library: PhotoLibrary, indexing: IndexingState? = nil) {
        self.library = library
        self.indexing = indexing
    }

    /// An answer: a status, a content type and bytes.
    public struct Reply: Sendable {
        public var status: Int
        public var contentType: String
        public var body: [UInt8]
        /// How long a browser may cache it (seconds); nil: not at all.
        public var maxAge: Int?

        static func json<T: Encodable>(_ value: T, status: Int = 200) -> Reply {
            Reply(status: status, contentType: "application/json; charset=utf-8", body: Array(GalleryAPI.encode(value)))
        }

        static func error(_ status: Int, _ message: String) -> Reply {
            json(ErrorBody(error: message), status: status)
        }
    }

    struct ErrorBody: Encodable { let error: String }

    static func encode<T: Encodable>(_ value: T) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)) ?? Data(#"{"error":"cannot encode the answer"}"#.utf8)
    }

    // MARK: Answers' shapes

    struct Hit: Encodable {
        let id: Int64
        let path: String
        let score: Float
        let takenAt: String?
        let width: Int?
        let height: Int?
        let thumbnail: String
        let file: String
        /// "camera" (EXIF) or "file" (its modification time), as `taken_at` is.
        let dateSource: String?

        enum CodingKeys: String, CodingKey {
            case id, path, score, takenAt = "taken_at", width, height, thumbnail, file, dateSource = "date_source"
        }

        // Absent values are written as null, not left out (the API's shape is fixed).
        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(path, forKey: .path)
            try container.encode(score, forKey: .score)
            try container.encode(takenAt, forKey: .takenAt)
            try container.encode(width, forKey: .width)
            try container.encode(height, forKey: .height)
            try container.encode(thumbnail, forKey: .thumbnail)
            try container.encode(file, forKey: .file)
            try container.encode(dateSource, forKey: .dateSource)
        }
    }

    struct Results: Encodable {
        let results: [Hit]
        let tookMs: Double

        enum CodingKeys: String, CodingKey { case results, tookMs = "took_ms" }
    }

    struct Photo: Encodable {
        let id: Int64
        let path: String
        let size: Int64
        let width: Int?
        let height: Int?
        let takenAt: String?
        let camera: String?
        let latitude: Double?
        let longitude: Double?
        let thumbnail: String
        let file: String

        enum CodingKeys: String, CodingKey {
            case id, path, size, width, height, takenAt = "taken_at", camera, latitude, longitude, thumbnail, file
        }

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(path, forKey: .path)
            try container.encode(size, forKey: .size)
            try container.encode(width, forKey: .width)
            try container.encode(height, forKey: .height)
            try container.encode(takenAt, forKey: .takenAt)
            try container.encode(camera, forKey: .camera)
            try container.encode(latitude, forKey: .latitude)
            try container.encode(longitude, forKey: .longitude)
            try container.encode(thumbnail, forKey: .thumbnail)
            try container.encode(file, forKey: .file)
        }
    }

    struct Status: Encodable {
        struct LastRun: Encodable {
            let status: String
            let startedAt: String
            let finishedAt: String?
            let added: Int
            let updated: Int
            let removed: Int
            let failed: Int

            enum CodingKeys: String, CodingKey {
                case status, startedAt = "started_at", finishedAt = "finished_at", added, updated, removed, failed
            }
        }

        let photos: Int
        let failed: Int
        let model: String?
        let precision: String?
        let indexing: IndexingState.Snapshot?
        let lastRun: LastRun?
        let busy: Busy?

        enum CodingKeys: String, CodingKey {
            case photos, failed, model, precision, indexing, lastRun = "last_run", busy
        }

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(photos, forKey: .photos)
            try container.encode(failed, forKey: .failed)
            try container.encode(model, forKey: .model)
            try container.encode(precision, forKey: .precision)
            try container.encode(indexing, forKey: .indexing)
            try container.encode(lastRun, forKey: .lastRun)
            try container.encodeIfPresent(busy, forKey: .busy)
        }
    }

    /// What the server is doing now: heavy requests running and waiting
    /// their turn, uploads being received or embedded.
    public struct Busy: Encodable, Sendable {
        public var heavy: Int
        public var waiting: Int
        public var uploads: Int
    }

    // MARK: Routes

    /// GET /api/status
    public func status(busy: Busy? = nil) -> Reply {
        do {
            let status = try library.status(failureLimit: 0)
            let run = status.lastRun.map {
                Status.LastRun(status: $0.status.rawValue, startedAt: $0.startedAt, finishedAt: $0.finishedAt, added: $0.added,
                               updated: $0.updated, removed: $0.removed, failed: $0.failed)
            }
            return .json(Status(photos: status.indexed, failed: status.failed, model: status.model?.name,
                                precision: status.model?.precision.rawValue, indexing: indexing?.snapshot(), lastRun: run, busy: busy))
        } catch .indexNotFound {
            // No index yet: the page says how to make one.
            return .json(Status(photos: 0, failed: 0, model: nil, precision: nil, indexing: indexing?.snapshot(), lastRun: nil, busy: busy))
        } catch {
            return failure(error)
        }
    }

    /// The most results one request may ask for.
    public static let maximumTop = 1000

    /// `top`, `min_score`, `after`, `before`, `in`, `sort` from a query string.
    func options(_ parameters: [String: String]) throws(Refusal) -> (PhotoLibrary.SearchOptions, PhotoLibrary.Order) {
        var options = PhotoLibrary.SearchOptions(top: 50)
        if let text = parameters["top"] {
            guard let top = Int(text), (1...Self.maximumTop).contains(top) else {
                throw Refusal(400, "top must be a whole number from 1 to \(Self.maximumTop)")
            }
            options.top = top
        }
        if let text = parameters["min_score"] {
            guard let score = Float(text), score.isFinite, (-1...1).contains(score) else {
                throw Refusal(400, "min_score must be a number from -1 to 1")
            }
            options.minimumScore = score
        }
        do {
            if let after = parameters["after"], !after.isEmpty { options.filter.after = try SearchFilter.instant(after) }
            if let before = parameters["before"], !before.isEmpty { options.filter.before = try SearchFilter.instant(before) }
        } catch {
            throw Refusal(400, error.localizedDescription)
        }
        if let folder = parameters["in"], !folder.isEmpty {
            guard folder.hasPrefix("/"), !folder.contains("\0") else { throw Refusal(400, "in must be an absolute folder path") }
            options.filter = SearchFilter(after: options.filter.after, before: options.filter.before, folder: folder)
        }
        var order = PhotoLibrary.Order.score
        if let text = parameters["sort"] {
            guard let value = PhotoLibrary.Order(rawValue: text) else { throw Refusal(400, "sort must be score or date") }
            order = value
        }
        return (options, order)
    }

    struct Refusal: Error {
        let status: Int
        let message: String
        init(_ status: Int, _ message: String) { self.status = status; self.message = message }
    }

    /// GET /api/search?q=…
    public func search(_ parameters: [String: String]) -> Reply {
        let start = DispatchTime.now().uptimeNanoseconds
        return answering {
            let (options, order) = try options(parameters)
            guard let text = parameters["q"], !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                return .error(400, "the query is empty: give q=…")
            }
            guard text.utf8.count <= 2000 else { return .error(400, "the query is longer than 2000 bytes") }
            // No term from a request may name a file on this computer: every
            // bare term is text, and image terms are refused (upload instead).
            let query: SearchQuery
            do {
                query = try SearchQuery.parse(text, fileExists: { _ in false })
            } catch {
                return .error(400, error.localizedDescription)
            }
            guard query.imagePaths.isEmpty else {
                return .error(400, "a query names an image (\(query.imagePaths[0])); to search by an example photo, send it to POST /api/search/image")
            }
            return try results(try library.search(query, options), order: order, since: start)
        }
    }

    /// GET /api/similar/ID
    public func similar(id text: String, _ parameters: [String: String]) -> Reply {
        let start = DispatchTime.now().uptimeNanoseconds
        guard let id = Self.photoID(text) else { return .error(404, "no photo has id \(text)") }
        return answering {
            let (options, order) = try options(parameters)
            return try results(try library.similar(toPhoto: id, options), order: order, since: start)
        }
    }

    /// The largest image POST /api/search/image takes.
    public static let maximumUpload = 30 << 20

    /// POST /api/search/image: the body is the image; it is never stored.
    public func search(image bytes: [UInt8], _ parameters: [String: String]) -> Reply {
        let start = DispatchTime.now().uptimeNanoseconds
        guard !bytes.isEmpty else { return .error(400, "the request has no image: send a JPEG, PNG, WebP or HEIF photo as the body") }
        return answering {
            let (options, order) = try options(parameters)
            let hits: [SearchHit]
            do {
                hits = try library.search(image: bytes, options)
            } catch PhotoIndexError.unreadableImage {
                return .error(400, "the image sent is not a JPEG, PNG, WebP or HEIF photo photosearch can read")
            }
            return try results(hits, order: order, since: start)
        }
    }

    /// GET /api/photos/ID
    public func photo(id text: String) -> Reply {
        guard let id = Self.photoID(text) else { return .error(404, "no photo has id \(text)") }
        return answering {
            let photo = try library.photo(id: id)
            return .json(Photo(id: photo.id, path: FilePaths.displayed(photo.path), size: photo.size, width: photo.width, height: photo.height,
                               takenAt: photo.takenAt, camera: photo.camera, latitude: photo.latitude, longitude: photo.longitude,
                               thumbnail: "/api/photos/\(id)/thumbnail", file: "/api/photos/\(id)/file"))
        }
    }

    /// GET /api/photos/ID/thumbnail when indexing stored one (nil: it must
    /// be made, a heavy job).
    public func storedThumbnail(id text: String) -> Reply? {
        guard let id = Self.photoID(text) else { return .error(404, "no photo has id \(text)") }
        do {
            return try library.storedThumbnail(id: id).map { Reply(status: 200, contentType: "image/jpeg", body: $0, maxAge: 3600) }
        } catch {
            return failure(error)
        }
    }

    /// GET /api/photos/ID/thumbnail
    public func thumbnail(id text: String) -> Reply {
        guard let id = Self.photoID(text) else { return .error(404, "no photo has id \(text)") }
        return answering { Reply(status: 200, contentType: "image/jpeg", body: try library.thumbnail(id: id), maxAge: 3600) }
    }

    /// GET /api/photos/ID/file: the original bytes (JPEG, PNG, WebP), or a
    /// JPEG rendering of a HEIF photo, which browsers cannot show.
    public func file(id text: String) -> Reply {
        guard let id = Self.photoID(text) else { return .error(404, "no photo has id \(text)") }
        return answering {
            let (photo, bytes) = try library.file(id: id)
            switch ImageFormat.sniff(bytes) {
            case .jpeg?: return Reply(status: 200, contentType: "image/jpeg", body: bytes)
            case .png?: return Reply(status: 200, contentType: "image/png", body: bytes)
            case .webp?: return Reply(status: 200, contentType: "image/webp", body: bytes)
            case .heif?:
                do {
                    let decoded = try ImageDecoder().decode(bytes: bytes, path: photo.path)
                    return Reply(status: 200, contentType: "image/jpeg", body: try JPEGEncoder.encode(decoded.bitmap, quality: 90))
                } catch {
                    return .error(404, error.localizedDescription)
                }
            case nil:
                return .error(404, "\(FilePaths.displayed(photo.path)) is no longer a photo")
            }
        }
    }

    /// A route's answer: its own, or the one its refusal or the library's
    /// error calls for.
    func answering(_ body: () throws -> Reply) -> Reply {
        do {
            return try body()
        } catch let refusal as Refusal {
            return .error(refusal.status, refusal.message)
        } catch let error as PhotoIndexError {
            return failure(error)
        } catch {
            return .error(503, "the request could not be answered: \(error)")
        }
    }

    /// A photo id as a request spells it: digits only, no sign, in range.
    static func photoID(_ text: String) -> Int64? {
        guard !text.isEmpty, text.count <= 18, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int64(text)
    }

    func results(_ hits: [SearchHit], order: PhotoLibrary.Order, since start: UInt64) throws(PhotoIndexError) -> Reply {
        // Their dimensions in one query (hits are at most `maximumTop`).
        let photos = try library.photos(ids: hits.map(\.photoID))
        let ordered = PhotoLibrary.ordered(hits, by: order).map { hit in
            // The date the filters compare and sort=date orders by, and its source, as the CLI prints them.
            Hit(id: hit.photoID, path: FilePaths.displayed(hit.path), score: hit.score, takenAt: hit.takenAt,
                width: photos[hit.photoID]?.width, height: photos[hit.photoID]?.height,
                thumbnail: "/api/photos/\(hit.photoID)/thumbnail", file: "/api/photos/\(hit.photoID)/file",
                dateSource: hit.takenAt == nil ? nil : hit.hasCameraDate ? "camera" : "file")
        }
        let took = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        return .json(Results(results: ordered, tookMs: (took * 100).rounded() / 100))
    }

    /// A library error as an HTTP answer, never a 500: the client's
    /// mistakes are 4xx, the index's or the model's state 409 or 503, each
    /// with the library's one-line message saying what to do.
    func failure(_ error: PhotoIndexError) -> Reply {
        switch error {
        case .noSuchPhoto, .photoGone, .photoChanged, .photoNotIndexed, .emptyIndex, .indexNotFound:
            return .error(404, error.localizedDescription)
        case .emptyQuery, .malformedQuery, .invalidDate, .invalidArgument, .queryCancelsOut, .unreadableImage, .noSuchImage,
             .rootNotFound:
            return .error(400, error.localizedDescription)
        case .modelMismatch, .embeddingSizeMismatch, .precisionMismatch:
            // The index was built (or rebuilt meanwhile) with another model.
            return .error(409, error.localizedDescription)
        case .model(.nonFiniteEmbedding):
            return .error(422, "the model cannot embed this query (its result is not a finite vector): \(error.localizedDescription)")
        case .noModel, .model, .cannotReadModel, .writerBusy, .diskFull, .databaseUnavailable, .notAnIndex, .database:
            return .error(503, error.localizedDescription)
        }
    }
}
