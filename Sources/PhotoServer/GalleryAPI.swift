import FileAccess
import Foundation
import Hummingbird
import Imaging
import PhotoIndex

/// The JSON API, one function per route: each takes what a request carries
/// (strings from strangers), validates it, and returns its answer — a
/// `ResponseEncodable` value, or an `Image` — or throws an `HTTPError` with
/// the status and the one line that says what to do (`ErrorsAsJSON` writes
/// it as `{"error":"…"}`). The limits a request is held to are the
/// library's (`PhotoLibrary.SearchOptions.maximumTop`,
/// `SearchQuery.maximumBytes`, `PhotoLibrary.maximumImageBytes`): a client
/// of `serve` may ask what the command line may, no more.
public struct GalleryAPI: Sendable {
    public let library: PhotoLibrary
    /// What the server's own indexing is doing (nil: it does not index).
    let indexing: IndexingState?

    public init(library: PhotoLibrary, indexing: IndexingState? = nil) {
        self.library = library
        self.indexing = indexing
    }

    /// How answers are written: keys sorted, slashes left as they are.
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// A photo or thumbnail: its bytes and type, which a browser may cache
    /// for `maxAge` seconds (nil: not at all).
    public struct Image: ResponseGenerator, Sendable {
        public var contentType: String
        public var bytes: [UInt8]
        public var maxAge: Int?

        public func response(from request: Request, context: some RequestContext) -> Response {
            var headers: HTTPFields = [.contentType: contentType]
            headers[.cacheControl] = maxAge.map { "private, max-age=\($0)" } ?? "no-store"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
    }

    // MARK: Answers' shapes

    struct Hit: Encodable {
        let id: Int64
        let path: String
        /// Null for a query of filters alone, which ranks nothing.
        let score: Float?
        /// SigLIP models, one-text queries: the match probability.
        let probability: Float?
        /// Well below the best match (`PhotoLibrary.weakerMargin`).
        let weaker: Bool
        let takenAt: String?
        let width: Int?
        let height: Int?
        let thumbnail: String
        let file: String
        /// "exif" or "file" (its modification time), as `taken_at` is.
        let dateSource: String?
        /// Where it was taken: name, region, country_code, country, distance_km.
        let place: PhotoPlace?
        /// The other indexed files with the same bytes, shown as this one.
        let copies: [String]

        enum CodingKeys: String, CodingKey {
            case id, path, score, probability, weaker, takenAt = "taken_at", width, height, thumbnail, file, dateSource = "date_source", place, copies
        }

        // Absent values are written as null, not left out (the API's shape is fixed).
        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(path, forKey: .path)
            try container.encode(score, forKey: .score)
            try container.encode(probability, forKey: .probability)
            try container.encode(weaker, forKey: .weaker)
            try container.encode(takenAt, forKey: .takenAt)
            try container.encode(width, forKey: .width)
            try container.encode(height, forKey: .height)
            try container.encode(thumbnail, forKey: .thumbnail)
            try container.encode(file, forKey: .file)
            try container.encode(dateSource, forKey: .dateSource)
            try container.encode(place, forKey: .place)
            try container.encode(copies, forKey: .copies)
        }
    }

    struct Results: ResponseEncodable {
        /// Where the next page starts: a timeline's `cursor`, or a search's
        /// `offset`.
        enum Next { case cursor(String), offset(Int) }

        let results: [Hit]
        let tookMs: Double
        /// The photos the filters let through: what was searched.
        let total: Int
        /// nil after the last page.
        let next: Next?

        enum CodingKeys: String, CodingKey { case results, total, next, tookMs = "took_ms" }

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(results, forKey: .results)
            try container.encode(total, forKey: .total)
            switch next {
            case let .cursor(text)?: try container.encode(text, forKey: .next)
            case let .offset(offset)?: try container.encode(offset, forKey: .next)
            case nil: try container.encodeNil(forKey: .next)
            }
            try container.encode(tookMs, forKey: .tookMs)
        }
    }

    struct Photo: ResponseEncodable {
        let id: Int64
        let path: String
        let size: Int64
        let width: Int?
        let height: Int?
        /// As search results give it: EXIF, else the file's time.
        let takenAt: String?
        let dateSource: String
        let camera: String?
        let latitude: Double?
        let longitude: Double?
        let place: PhotoPlace?
        let thumbnail: String
        let file: String

        enum CodingKeys: String, CodingKey {
            case id, path, size, width, height, takenAt = "taken_at", dateSource = "date_source", camera, latitude, longitude, place, thumbnail, file
        }

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(path, forKey: .path)
            try container.encode(size, forKey: .size)
            try container.encode(width, forKey: .width)
            try container.encode(height, forKey: .height)
            try container.encode(takenAt, forKey: .takenAt)
            try container.encode(dateSource, forKey: .dateSource)
            try container.encode(camera, forKey: .camera)
            try container.encode(latitude, forKey: .latitude)
            try container.encode(longitude, forKey: .longitude)
            try container.encode(place, forKey: .place)
            try container.encode(thumbnail, forKey: .thumbnail)
            try container.encode(file, forKey: .file)
        }
    }

    struct Status: ResponseEncodable {
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
        /// Of `photos`, those with the model's embeddings: fewer while a run
        /// replacing the model has not finished (searches miss the rest).
        let embedded: Int
        let failed: Int
        let model: String?
        let precision: String?
        let indexing: IndexingState.Snapshot?
        let lastRun: LastRun?
        let busy: Busy?
        /// What the model answers: english, chinese-english, multilingual.
        var queryLanguages: String? = nil
        /// The state of the embeddings, in hex (a number past 2^53 would
        /// lose digits in JavaScript): another value once photos were
        /// added, re-embedded or removed, which the page offers to show.
        var generation: String? = nil

        enum CodingKeys: String, CodingKey {
            case photos, embedded, failed, model, precision, indexing, lastRun = "last_run", busy, queryLanguages = "query_languages", generation
        }

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(photos, forKey: .photos)
            try container.encode(embedded, forKey: .embedded)
            try container.encode(failed, forKey: .failed)
            try container.encode(model, forKey: .model)
            try container.encode(precision, forKey: .precision)
            try container.encode(indexing, forKey: .indexing)
            try container.encode(lastRun, forKey: .lastRun)
            try container.encode(generation, forKey: .generation)
            try container.encodeIfPresent(busy, forKey: .busy)
            try container.encode(queryLanguages, forKey: .queryLanguages)
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
    func status(busy: Busy? = nil) throws(HTTPError) -> Status {
        do {
            let status = try library.status(failureLimit: 0)
            let run = status.lastRun.map {
                Status.LastRun(status: $0.status.rawValue, startedAt: $0.startedAt, finishedAt: $0.finishedAt, added: $0.summary.added,
                               updated: $0.summary.updated, removed: $0.summary.removed, failed: $0.summary.failed)
            }
            // (Unknown when the model cannot be loaded: searches say why.)
            return Status(photos: status.indexed, embedded: status.embeddings, failed: status.failed, model: status.model?.name,
                          precision: status.model?.precision.rawValue, indexing: indexing?.snapshot(), lastRun: run, busy: busy,
                          queryLanguages: try? library.queryLanguages(), generation: String(UInt64(bitPattern: status.generation), radix: 16))
        } catch .indexNotFound {
            // No index yet: the page says how to make one.
            return Status(photos: 0, embedded: 0, failed: 0, model: nil, precision: nil, indexing: indexing?.snapshot(), lastRun: nil, busy: busy)
        } catch {
            throw Self.refusal(error)
        }
    }

    /// `top`, `min_score`, `min_probability`, `after`, `before`, `in`,
    /// `place`, `name` and `camera` (repeatable), `near`, `probes`, `sort` from a query string, as numbers,
    /// dates and positions; their ranges are the library's to check.
    func options(_ parameters: QueryParameters) throws(HTTPError) -> (PhotoLibrary.SearchOptions, PhotoLibrary.Order) {
        var options = PhotoLibrary.SearchOptions(top: 50)
        if let text = parameters["top"] {
            guard let top = Int(text) else { throw HTTPError(.badRequest, message: "top must be a whole number") }
            options.top = top
        }
        if let text = parameters["min_score"] {
            guard let score = Float(text) else { throw HTTPError(.badRequest, message: "min_score must be a number") }
            options.minimumScore = score
        }
        if let text = parameters["min_probability"], !text.isEmpty {
            guard let probability = Float(text) else { throw HTTPError(.badRequest, message: "min_probability must be a number") }
            options.minimumProbability = probability
        }
        if let text = parameters["offset"], !text.isEmpty {
            guard let offset = Int(text) else { throw HTTPError(.badRequest, message: "offset must be a whole number") }
            options.offset = offset
        }
        if let text = parameters["probes"], !text.isEmpty {
            guard let probes = Int(text) else { throw HTTPError(.badRequest, message: "probes must be a whole number") }
            options.probes = probes
        }
        do {
            if let after = parameters["after"], !after.isEmpty { options.filter.after = try SearchFilter.instant(after) }
            if let before = parameters["before"], !before.isEmpty { options.filter.before = try SearchFilter.instant(before) }
        } catch {
            throw Self.refusal(error)
        }
        if let folder = parameters["in"], !folder.isEmpty {
            guard folder.hasPrefix("/"), !folder.contains("\0") else { throw HTTPError(.badRequest, message: "in must be an absolute folder path") }
            options.filter = SearchFilter(after: options.filter.after, before: options.filter.before, folder: folder)
        }
        options.filter.places = parameters.all("place").filter { !$0.isEmpty }
        options.filter.names = parameters.all("name").filter { !$0.isEmpty }
        options.filter.cameras = parameters.all("camera").filter { !$0.isEmpty }
        if let near = parameters["near"], !near.isEmpty {
            do {
                options.filter.near = try SearchFilter.Circle(parsing: near)
            } catch {
                throw Self.refusal(error)
            }
        }
        var order = PhotoLibrary.Order.score
        if let text = parameters["sort"] {
            guard let value = PhotoLibrary.Order(rawValue: text) else { throw HTTPError(.badRequest, message: "sort must be score or date") }
            order = value
        }
        do {
            try options.validate()
        } catch {
            throw Self.refusal(error)
        }
        return (options, order)
    }

    /// GET /api/search?q=…
    func search(_ parameters: QueryParameters) throws(HTTPError) -> Results {
        let start = DispatchTime.now().uptimeNanoseconds
        let (options, order) = try options(parameters)
        guard let text = parameters["q"], !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw HTTPError(.badRequest, message: "the query is empty: give q=…")
        }
        // No term from a request may name a file on this computer: every
        // bare term is text, and image terms are refused (upload instead).
        let query: SearchQuery
        do {
            query = try SearchQuery.parse(text, fileExists: { _ in false })
        } catch let .noSuchImage(path) {
            // (Every file is "no such image" here: said as the refusal it is.)
            throw Self.namesAnImage(path)
        } catch {
            throw Self.refusal(error)
        }
        guard query.imagePaths.isEmpty else { throw Self.namesAnImage(query.imagePaths[0]) }
        return try answering { () throws(PhotoIndexError) in
            let page = try library.searchPage(query, options)
            return try results(page.hits, order: order, options: options, total: page.total, since: start)
        }
    }

    /// GET /api/timeline?cursor=…: every photo the filters let through,
    /// newest first, a page of `top` at a time; `next` is the next page's
    /// cursor.
    func timeline(_ parameters: QueryParameters) throws(HTTPError) -> Results {
        let start = DispatchTime.now().uptimeNanoseconds
        let (options, _) = try options(parameters)
        var cursor: TimelineCursor?
        if let text = parameters["cursor"], !text.isEmpty {
            guard let parsed = TimelineCursor(text: text) else {
                throw HTTPError(.badRequest, message: "cursor must be the next value of a timeline page")
            }
            cursor = parsed
        }
        return try answering { () throws(PhotoIndexError) in
            let hits = try library.timeline(options, after: cursor)
            return try results(hits, order: .score, options: options, total: try library.count(SearchQuery(parts: []), options),
                               next: hits.count == options.top ? hits.last.map { .cursor(TimelineCursor(after: $0).text) } : nil, since: start)
        }
    }

    /// GET /api/similar/ID
    func similar(id text: String, _ parameters: QueryParameters) throws(HTTPError) -> Results {
        let start = DispatchTime.now().uptimeNanoseconds
        let id = try Self.photoID(text)
        let (options, order) = try options(parameters)
        return try answering { () throws(PhotoIndexError) in
            let page = try library.similarPage(toPhoto: id, options)
            return try results(page.hits, order: order, options: options, total: page.total, since: start)
        }
    }

    /// POST /api/search/image: the body is the image; it is never stored.
    func search(image bytes: [UInt8], _ parameters: QueryParameters) throws(HTTPError) -> Results {
        let start = DispatchTime.now().uptimeNanoseconds
        guard !bytes.isEmpty else { throw HTTPError(.badRequest, message: "the request has no image: send a JPEG, PNG, WebP or HEIF photo as the body") }
        let (options, order) = try options(parameters)
        let page: PhotoLibrary.SearchPage
        do {
            page = try library.searchPage(image: bytes, options)
        } catch let .unreadableImage(error) {
            // Why, as the command line says it: not an image, too many pixels, damaged…
            throw HTTPError(.badRequest, message: error.localizedDescription)
        } catch {
            throw Self.refusal(error)
        }
        return try answering { () throws(PhotoIndexError) in
            try results(page.hits, order: order, options: options, total: page.total, since: start)
        }
    }

    /// GET /api/photos/ID
    func photo(id text: String) throws(HTTPError) -> Photo {
        let id = try Self.photoID(text)
        let (photo, place) = try answering { () throws(PhotoIndexError) in
            (try library.photo(id: id), try library.place(ofPhoto: id))
        }
        return Photo(id: id, path: FilePaths.unicodeText(photo.path), size: photo.size, width: photo.width, height: photo.height,
                     takenAt: photo.date.value, dateSource: photo.date.fromEXIF ? "exif" : "file", camera: photo.camera, latitude: photo.latitude, longitude: photo.longitude, place: place,
                     thumbnail: "/api/photos/\(id)/thumbnail", file: "/api/photos/\(id)/file")
    }

    struct Places: ResponseEncodable {
        struct Place: Encodable {
            let name: String
            let region: String?
            let countryCode: String
            let country: String
            let latitude: Double
            let longitude: Double
            let photos: Int
            let matchedAs: String?

            enum CodingKeys: String, CodingKey {
                case name, region, countryCode = "country_code", country, latitude, longitude, photos, matchedAs = "matched_as"
            }

            func encode(to encoder: Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(name, forKey: .name)
                try container.encode(region, forKey: .region)
                try container.encode(countryCode, forKey: .countryCode)
                try container.encode(country, forKey: .country)
                try container.encode(latitude, forKey: .latitude)
                try container.encode(longitude, forKey: .longitude)
                try container.encode(photos, forKey: .photos)
                try container.encode(matchedAs, forKey: .matchedAs)
            }
        }

        let places: [Place]
    }

    struct Months: ResponseEncodable {
        struct Month: Encodable { let month: String; let photos: Int }
        let months: [Month]
    }

    /// GET /api/months: the months photos were taken in, newest first,
    /// with their counts (the page's date choosers).
    func months() throws(HTTPError) -> Months {
        Months(months: try answering { () throws(PhotoIndexError) in try library.months() }.map { Months.Month(month: $0.month, photos: $0.photos) })
    }

    /// GET /api/places[?name=…]: where the photos were taken, most
    /// photographed first (`photosearch places`); with a name, the places a
    /// `place=` filter of that name matches.
    /// 400: a query term that names an image file (a request may name no
    /// file on this computer).
    static func namesAnImage(_ path: String) -> HTTPError {
        HTTPError(.badRequest, message: "a query names an image (\(path)); to search by an example photo, send it to POST /api/search/image")
    }

    func places(_ parameters: QueryParameters) throws(HTTPError) -> Places {
        // Repeatable on searches (name: filters), one name here.
        if parameters.all("name").count > 1 { throw HTTPError(.badRequest, message: "the parameter name is given more than once") }
        let name = parameters["name"].flatMap { $0.isEmpty ? nil : $0 }
        if let name, name.utf8.count > SearchQuery.maximumBytes {
            throw HTTPError(.badRequest, message: "the name is longer than \(SearchQuery.maximumBytes) bytes")
        }
        let places: [PlaceCount]
        do {
            places = try library.places(named: name)
        } catch .indexNotFound, .emptyIndex {
            places = []
        } catch {
            throw Self.refusal(error)
        }
        return Places(places: places.map {
            Places.Place(name: $0.name, region: $0.region, countryCode: $0.countryCode, country: $0.country, latitude: $0.latitude,
                         longitude: $0.longitude, photos: $0.photos, matchedAs: $0.matchedAs?.rawValue)
        })
    }

    /// GET /api/photos/ID/thumbnail when indexing stored one (nil: it must
    /// be made, a heavy job).
    func storedThumbnail(id text: String) throws(HTTPError) -> Image? {
        let id = try Self.photoID(text)
        return try answering { () throws(PhotoIndexError) in
            try library.storedThumbnail(id: id).map { Image(contentType: "image/jpeg", bytes: $0, maxAge: 3600) }
        }
    }

    /// GET /api/photos/ID/thumbnail
    func thumbnail(id text: String) throws(HTTPError) -> Image {
        let id = try Self.photoID(text)
        return try answering { () throws(PhotoIndexError) in Image(contentType: "image/jpeg", bytes: try library.thumbnail(id: id), maxAge: 3600) }
    }

    /// GET /api/photos/ID/file: the original bytes (JPEG, PNG, WebP), or a
    /// JPEG rendering of a HEIF photo, which browsers cannot show.
    func file(id text: String) throws(HTTPError) -> Image {
        let id = try Self.photoID(text)
        let (photo, bytes) = try answering { () throws(PhotoIndexError) in try library.file(id: id) }
        // Cached by the browser for an hour, as thumbnails: each look at a
        // HEIC converted it again (and each at another photo read it again).
        switch ImageFormat.sniff(bytes) {
        case .jpeg?: return Image(contentType: "image/jpeg", bytes: bytes, maxAge: 3600)
        case .png?: return Image(contentType: "image/png", bytes: bytes, maxAge: 3600)
        case .webp?: return Image(contentType: "image/webp", bytes: bytes, maxAge: 3600)
        case .heif?:
            do {
                let decoded = try ImageDecoder().decode(bytes: bytes, path: photo.path)
                return Image(contentType: "image/jpeg", bytes: try JPEGEncoder.encode(decoded.bitmap, quality: 90), maxAge: 3600)
            } catch {
                throw HTTPError(.notFound, message: error.localizedDescription)
            }
        case nil:
            throw HTTPError(.notFound, message: "\(FilePaths.displayed(photo.path)) is no longer a photo")
        }
    }

    /// The library's answer, or the refusal its error calls for.
    func answering<T>(_ body: () throws(PhotoIndexError) -> T) throws(HTTPError) -> T {
        do {
            return try body()
        } catch {
            throw Self.refusal(error)
        }
    }

    /// A photo id as a request spells it: digits only, no sign, in range.
    static func photoID(_ text: String) throws(HTTPError) -> Int64 {
        guard !text.isEmpty, text.count <= 18, text.allSatisfy({ $0.isASCII && $0.isNumber }), let id = Int64(text) else {
            throw HTTPError(.notFound, message: "no photo has id \(text.prefix(100))")
        }
        return id
    }

    /// A page of results. `next` is the following page's: a timeline's
    /// cursor, given; by default a search's offset, when this page is full,
    /// photos are left, and the order is by score (`sort=date` orders one
    /// page, which later pages would not continue).
    func results(_ hits: [SearchHit], order: PhotoLibrary.Order, options: PhotoLibrary.SearchOptions, total: Int,
                 next: Results.Next?? = nil, since start: UInt64) throws(PhotoIndexError) -> Results {
        // Their dimensions in one query.
        let photos = try library.photos(ids: hits.map(\.photoID))
        let ordered = PhotoLibrary.ordered(hits, by: order).map { hit in
            // The date the filters compare and sort=date orders by, and its source, as the CLI prints them.
            Hit(id: hit.photoID, path: FilePaths.unicodeText(hit.path), score: hit.ranked ? hit.score : nil, probability: hit.probability,
                weaker: hit.weaker, takenAt: hit.takenAt,
                width: photos[hit.photoID]?.width, height: photos[hit.photoID]?.height,
                thumbnail: "/api/photos/\(hit.photoID)/thumbnail", file: "/api/photos/\(hit.photoID)/file",
                dateSource: hit.takenAt == nil ? nil : hit.hasCameraDate ? "exif" : "file", place: hit.place,
                copies: hit.copies.map(FilePaths.unicodeText))
        }
        let took = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        let more = hits.count == options.top && options.reach < total && order == .score
            && options.reach + options.top <= PhotoLibrary.SearchOptions.maximumTop
        return Results(results: ordered, tookMs: (took * 100).rounded() / 100, total: total, next: next ?? (more ? .offset(options.reach) : nil))
    }

    /// A library error as an HTTP refusal, never a 500: the client's
    /// mistakes are 4xx, the index's or the model's state 409 or 503, each
    /// with the library's one-line message saying what to do.
    static func refusal(_ error: PhotoIndexError) -> HTTPError {
        let status: HTTPResponse.Status
        var message = error.localizedDescription
        switch error {
        case .noSuchPhoto, .photoGone, .photoChanged, .photoNotIndexed, .emptyIndex, .indexNotFound:
            status = .notFound
        case .emptyQuery, .malformedQuery, .invalidDate, .invalidArgument, .queryCancelsOut, .unreadableImage, .noSuchImage,
             .rootNotFound, .rootEmptied, .unknownPlace, .noPhotosInFolder:
            status = .badRequest
        case .modelMismatch, .embeddingSizeMismatch, .precisionMismatch:
            // The index was built (or rebuilt meanwhile) with another model.
            status = .conflict
        case .model(.nonFiniteEmbedding):
            status = .unprocessableContent
            message = "the model cannot embed this query (its result is not a finite vector): \(message)"
        case .noModel, .model, .cannotReadModel, .writerBusy, .diskFull, .databaseUnavailable, .notAnIndex, .database, .places:
            status = .serviceUnavailable
        }
        return HTTPError(status, message: message)
    }
}
