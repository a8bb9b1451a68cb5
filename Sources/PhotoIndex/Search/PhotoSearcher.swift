import Compute
import Foundation
import GRDB
import Places
import Synchronization

/// One search result.
public struct SearchHit: Sendable, Equatable {
    public var photoID: Int64
    public var path: String
    /// Cosine similarity with the query.
    public var score: Float
    /// EXIF date taken, else the file's modification time (local), "YYYY-MM-DDTHH:MM:SS".
    public var takenAt: String?
    /// True when `takenAt` comes from EXIF.
    public var hasCameraDate: Bool
    /// For a SigLIP model and a one-text query: the probability that the
    /// photo matches the text, as the model was trained to give it.
    public var probability: Float? = nil
    /// A text query's result well below the best
    /// (`PhotoLibrary.weakerMargin`), or, with a probability, below 50 %:
    /// one to show after the good matches, or not at all.
    public var weaker = false
    /// Where it was taken, when its position is near a known place.
    public var place: PhotoPlace? = nil
    /// The other indexed files with the very same bytes (content hash and
    /// size), by path: a result stands for all its copies, shown once.
    public var copies: [String] = []
    /// Content hash and size, which copies share.
    var content: String? = nil
    /// False for a query of filters alone, which ranks nothing: `score` is
    /// then 0, and the photos come newest first.
    public var ranked = true
}

/// Where a timeline page ended: the date (as `SearchFilter.date` gives
/// it, "YYYY-MM-DDTHH:MM:SS") and id of its last photo; the next page
/// starts after it.
public struct TimelineCursor: Sendable, Equatable {
    public var date: String
    public var photoID: Int64

    public init(date: String, photoID: Int64) {
        self.date = date
        self.photoID = photoID
    }

    /// After `hit`, the last of a page. (Its date's control characters,
    /// which only a hand-edited index holds, shown as U+FFFD: `init(text:)`
    /// refuses them; the page after reads the photo's own date anyway.)
    public init(after hit: SearchHit) {
        let date = String((hit.takenAt ?? "").prefix(19))
        let shown = date.unicodeScalars.map { $0.properties.generalCategory == .control ? "\u{FFFD}" : Character($0) }
        self.init(date: String(shown), photoID: hit.photoID)
    }

    /// "DATE_ID", as a URL carries it.
    public var text: String { "\(date)_\(photoID)" }

    /// From `text`'s form; nil when it is not one. The date is what a page
    /// showed, at most 19 characters: an instant as our indexer writes
    /// them, or whatever else an index holds (it is only compared).
    public init?(text: String) {
        guard let underscore = text.lastIndex(of: "_"), let id = Int64(text[text.index(after: underscore)...]), id > 0 else { return nil }
        let date = String(text[..<underscore])
        guard date.unicodeScalars.count <= 19, !date.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            return nil
        }
        self.init(date: date, photoID: id)
    }
}

/// Top-K search over an index's vectors, safe to call from many threads at
/// once.
///
/// First pass: the 4-bit rows of the `VectorMatrix`, scanned on every core,
/// keeping the best few hundred rows in a heap per core (approximate): all
/// of them, or, in a partitioned matrix, those of the cells whose centroids
/// are nearest the query (approximate again: a true match in a cell not
/// probed is missed; `probes` trades recall for time). Second pass: those
/// rows scored exactly from the float16 vectors the matrix keeps beside the
/// 4-bit rows (the very values SQLite holds), the best of them kept while
/// SQLite still has their embeddings (which drops photos deleted or
/// re-embedded since), and every embedding added since the matrix was
/// written scored from SQLite. The result is exact whenever the true top K
/// survive the 4-bit pass, which its candidate count makes near certain
/// (recall@10 is measured by `photosearch-bench search`). Filters are applied in
/// the first pass, before ranking; a filter that leaves too few photos in
/// the probed cells to rank scans every photo it allows instead.
///
/// The matrix is shared by all searches and replaced, never changed: a
/// search holds the matrix it started with while a newer one is built.
final class PhotoSearcher: Sendable {
    let database: IndexDatabase
    let model: ModelRecord
    private let cached = Mutex<VectorMatrix?>(nil)
    /// Held while the vector file is written, so that one thread writes it.
    private let building = Mutex(())
    /// When the matrix is partitioned, and into how many cells.
    let partitioning: Partitioning

    /// Opens the search side of an index; `emptyIndex` when it has no vectors.
    init(database: IndexDatabase, partitioning: Partitioning = .fromEnvironment()) throws(PhotoIndexError) {
        self.database = database
        self.partitioning = partitioning
        let found = try database.read { db -> (ModelRecord?, Bool) in
            let model = try ModelRecord.current(db)
            let any = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM embeddings)") ?? false
            return (model, any)
        }
        guard let model = found.0, found.1 else { throw .emptyIndex(path: database.path) }
        self.model = model
    }

    /// Refuses a model other than the one the index was built with.
    func verify(_ identity: ModelIdentity) throws(PhotoIndexError) {
        guard identity.embeddingSize == model.embeddingSize else {
            throw .embeddingSizeMismatch(index: model.embeddingSize, given: identity.embeddingSize, indexModel: model.name)
        }
        guard identity.checksum == model.checksum else {
            throw .modelMismatch(index: "\(model.name) (\(model.checksum))", given: "\(identity.name) (\(identity.checksum))")
        }
    }

    /// The stored vector of the photo at `path`, or nil if it is not indexed
    /// (or its row is damaged: not the model's size, or not finite).
    func storedVector(path: String) throws(PhotoIndexError) -> (photoID: Int64, vector: [Float])? {
        try database.read { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT p.id, e.vector FROM photos p JOIN embeddings e ON e.photo_id = p.id AND e.model_id = ?
                WHERE p.path = ?
                """, arguments: [model.id, path]) else { return nil }
            let vector = VectorBlob.vector(row["vector"])
            guard vector.count == model.embeddingSize, vector.allSatisfy(\.isFinite) else { return nil }
            return (row["id"], vector)
        }
    }

    /// How many 4-bit candidates get an exact score, and how many of the best
    /// of those are checked against SQLite, for a top-K query.
    static func coarseCandidates(top: Int) -> Int { max(40 * top, 400) }
    static func candidates(top: Int) -> Int { max(4 * top, 64) }

    /// When more vectors than this were added since the matrix was written,
    /// it is written again (they are otherwise read from SQLite every search:
    /// 10 000 cost a search ~10 ms).
    static func rebuildThreshold(rows: Int) -> Int { max(2000, min(rows / 20, 10_000)) }

    /// The `top` photos most similar to `query` (L2-normalised internally);
    /// `probes`: the cells of a partitioned matrix to scan (nil: the
    /// standard choice, `Partitioning.probes`).
    func search(_ query: [Float], top: Int, minimumScore: Float? = nil, filter: SearchFilter = SearchFilter(),
                excluding: Set<Int64> = [], probes: Int? = nil) throws(PhotoIndexError) -> [SearchHit] {
        try rank(query, top: top, minimumScore: minimumScore, filter: filter, excluding: excluding, probes: probes).hits
    }

    /// A search's hits, and how many photos its filter let through
    /// (`excluding` left out), counted from the set it searched: what
    /// `count` would give, without reading every row again (48 ms at
    /// 100 000 photos for a `name:` filter); nil without a filter.
    struct Ranking {
        var hits: [SearchHit]
        let passing: Int?
    }

    /// `search`, with the photos its filter let through.
    func rank(_ query: [Float], top: Int, minimumScore: Float? = nil, filter: SearchFilter = SearchFilter(),
              excluding: Set<Int64> = [], probes: Int? = nil) throws(PhotoIndexError) -> Ranking {
        precondition(query.count == model.embeddingSize, "query dimension differs from the index's")
        let query = VectorMath.normalized(query)
        var matrix = try currentMatrix()
        var delta = try vectorsAdded(after: matrix.highestEmbeddingID)
        if delta.count > Self.rebuildThreshold(rows: matrix.rows) {
            matrix = try rebuildMatrix(replacing: matrix)
            delta = try vectorsAdded(after: matrix.highestEmbeddingID)
        }
        let allowed = try allowedPhotos(filter)

        var (coarse, capacity) = (Self.coarseCandidates(top: top) + excluding.count, Self.candidates(top: top) + excluding.count)
        var candidates = scan(matrix, query: query, coarse: coarse, capacity: capacity, allowed: allowed, probes: probes)
        var needed = top + excluding.count
        var (exact, gone) = try liveScores(of: candidates, in: matrix, needed: needed)
        if gone.checked > 0, gone.count > gone.checked / 4 {
            // Many candidates were deleted since the matrix was written: they
            // could crowd out live photos. Write it again and scan once more.
            matrix = try rebuildMatrix(replacing: matrix)
            delta = try vectorsAdded(after: matrix.highestEmbeddingID)
            candidates = scan(matrix, query: query, coarse: coarse, capacity: capacity, allowed: allowed, probes: probes)
            (exact, gone) = try liveScores(of: candidates, in: matrix, needed: needed)
        }
        var added: [Int64: Float] = [:]
        for (photoID, vector) in delta where allowed?.contains(photoID) ?? true && vector.count == query.count {
            let score = vector.withUnsafeBufferPointer { v in query.withUnsafeBufferPointer { VectorMath.dot($0, v) } }
            if score.isFinite { added[photoID] = score }
        }
        let minimum = minimumScore ?? -.infinity
        let passing = allowed.map { allowed in allowed.count - excluding.count(where: allowed.contains) }
        while true {
            let ranked = exact.merging(added) { $1 }.filter { !excluding.contains($0.key) && $0.value >= minimum }
                .sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }
            let hits = try withCopies(ranked, top: top)
            // Copies are shown once, so the candidates checked may make fewer
            // than `top` photos: check more of them while any could rank,
            // and scan for more when all were checked and the scan was cut.
            let ranking = Ranking(hits: hits, passing: passing)
            guard hits.count < top else { return ranking }
            if gone.checked < candidates.count {
                guard candidates[gone.checked].score >= minimum else { return ranking }
            } else {
                guard candidates.count == capacity, candidates.last!.score >= minimum else { return ranking }
                (coarse, capacity) = (2 * coarse, 2 * capacity)
                candidates = scan(matrix, query: query, coarse: coarse, capacity: capacity, allowed: allowed, probes: probes)
            }
            needed = gone.checked + 2 * (top - hits.count)
            (exact, gone) = try liveScores(of: candidates, in: matrix, needed: needed)
        }
    }

    /// The photos `filter` lets through, newest first (by the date the
    /// filters compare), at most `top`: what a query of filters alone gives.
    func browse(_ filter: SearchFilter, top: Int, before cursor: TimelineCursor? = nil) throws(PhotoIndexError) -> [SearchHit] {
        // A position is tested here, after SQL's cut to its latitudes
        // (allowedPhotos checks the filter too).
        let allowed: PhotoSet?
        if filter.near != nil {
            allowed = try allowedPhotos(filter)
        } else {
            try check(filter)
            allowed = nil
        }
        // The newest 2·top (more when copies collapsed below top).
        var limit = 2 * top
        while true {
            let (newest, more) = try newest(limit, filter, before: cursor, allowed: allowed)
            var hits = try withCopies(newest, top: top)
            if hits.count >= top || !more {
                for index in hits.indices { hits[index].ranked = false }
                return hits
            }
            limit *= 4
        }
    }

    /// How far a photo's `SearchFilter.time` may be from the date results
    /// show for it (`SearchFilter.date`), read as UTC: a file's local time
    /// is within 26 hours of UTC (RFC 8536 keeps a zone's offsets within
    /// -24:59:59 and +25:59:59, tzdata's within 16 hours, and glibc a POSIX
    /// TZ within 24:59:59 and its summer hour), and an EXIF day past its
    /// month's end ("02-31") is read as up to three days later.
    static let timeMargin: Int64 = 4 * 86_400

    /// The `limit` newest photos `filter` (and `allowed`) lets through
    /// after `cursor`, by the date results show, ties by higher id, and
    /// whether there are more. Walks the index of `SearchFilter.time` from
    /// the newest (index schema v8), rendering the dates of the photos it
    /// reads only, and stops where no photo further on can be newer than
    /// the ones kept: a timeline page at 100 000 photos no longer renders
    /// and sorts every date. An index made before v8 is sorted whole.
    private func newest(_ limit: Int, _ filter: SearchFilter, before cursor: TimelineCursor?,
                        allowed: PhotoSet?) throws(PhotoIndexError) -> (photos: [(key: Int64, value: Float)], more: Bool) {
        try database.read { db in
            // Newest first as SQLite orders dates: NULL, then text, then
            // blobs, each by its bytes (BINARY), ties by higher id.
            typealias Dated = (id: Int64, kind: UInt8, date: [UInt8])
            func newer(_ a: Dated, _ b: Dated) -> Bool {
                if a.kind != b.kind { return a.kind > b.kind }
                return a.date == b.date ? a.id > b.id : b.date.lexicographicallyPrecedes(a.date)
            }
            let text: UInt8 = 1
            /// A row of id, typeof(date), CAST(date AS BLOB): the bytes as
            /// SQLite holds them (GRDB's strings would mend invalid UTF-8).
            func dated(_ row: Row) -> Dated {
                let kind: UInt8 = switch row[1] as String? { case "text": text; case "blob": 2; default: 0 }
                let bytes: Data? = row[2]
                return (row[0], kind, bytes.map(Array.init) ?? [])
            }
            let columns = "id, typeof(\(SearchFilter.date)), CAST(\(SearchFilter.date) AS BLOB)"
            // The last photo shown: its date as SQLite holds it while it is
            // indexed (a page shows a date mended into text, which compares
            // otherwise when it is a blob or not UTF-8, and none as ""),
            // else the date the cursor carries.
            var last = cursor.map { Dated($0.photoID, text, Array($0.date.utf8)) }
            var lastDate: DatabaseValue = cursor?.date.databaseValue ?? .null
            if let cursor, let row = try Row.fetchOne(db, sql: """
                SELECT \(columns), \(SearchFilter.date) FROM photos WHERE id = ? AND state = 'indexed'
                """, arguments: [cursor.photoID]) {
                last = dated(row)
                lastDate = row[3]
            }
            var kept: [Dated] = []
            func keep(_ rows: RowCursor) throws {
                while let row = try rows.next() {
                    guard allowed?.contains(row[0]) ?? true else { continue }
                    kept.append(dated(row))
                }
            }
            // Older than the last photo shown, in SQL (ties by id, as the
            // order; a photo without a date is older than any with one).
            func older(_ sql: (clause: String, arguments: [any DatabaseValueConvertible])) -> (String, StatementArguments) {
                guard let cursor else { return (sql.clause, StatementArguments(sql.arguments)) }
                let date = SearchFilter.date
                return (sql.clause + " AND (\(date) < ? OR (\(date) IS ? AND id < ?) OR (\(date) IS NULL AND ? IS NOT NULL))",
                        StatementArguments(sql.arguments + [lastDate, lastDate, cursor.photoID, lastDate]))
            }
            guard try Self.hasIndex("photos_by_time", db) else {
                let (clause, arguments) = older(filter.sql())
                try keep(try Row.fetchCursor(db, sql: """
                    SELECT \(columns) FROM photos WHERE \(clause)
                    ORDER BY \(SearchFilter.date) DESC, id DESC\(allowed == nil ? " LIMIT \(limit + 1)" : "")
                    """, arguments: arguments))
                return (kept.prefix(limit).map { ($0.id, 0) }, kept.count > limit)
            }
            // Photos whose EXIF date SQLite does not read have no time: all are candidates.
            let (clause, arguments) = older(filter.sql())
            try keep(try Row.fetchCursor(db, sql: "SELECT \(columns) FROM photos WHERE \(clause) AND \(SearchFilter.time) IS NULL",
                                         arguments: arguments))
            kept.sort(by: newer)
            // Past a photo without a date, only photos without one (which have no time) are left.
            if last?.kind == 0 { return (kept.prefix(limit).map { ($0.id, 0) }, kept.count > limit) }
            // A folder holding an eighth of the photos or more is read in
            // time order, its paths tested on the way; a smaller one from
            // the path index and sorted (a walk until its photos come would
            // cost more than sorting them all).
            var walk = filter.sql(folderByRange: false)
            if let folder = filter.folder {
                let range = SearchFilter.paths(under: folder)
                let all = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM photos") ?? 0
                let inside = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM (SELECT 1 FROM photos WHERE path >= ? AND path < ? LIMIT ?)",
                                              arguments: [range.from, range.before, all / 8 + 1]) ?? 0
                if inside <= all / 8 { walk = filter.sql() }
            }
            // Outside its dates' range of times, no photo passes a date filter.
            if let range = filter.timeRange {
                walk.clause += " AND " + range.clause
                walk.arguments += range.arguments
            }
            if let last, last.kind == text, let seconds = SearchFilter.utcSeconds(String(decoding: last.date, as: UTF8.self)) {
                // Past this, a photo is newer than the cursor.
                walk.clause += " AND \(SearchFilter.time) <= ?"
                walk.arguments.append(seconds + Self.timeMargin)
            }
            // A photo without an EXIF date shows its file's time, rendered
            // in local time once per distinct second (files copied together
            // share one), not in SQL for every row.
            let render = try db.makeStatement(sql: "SELECT \(SearchFilter.fileDate("?"))")
            var rendered: [Int64: [UInt8]] = [:]
            let rows = try Row.fetchCursor(db, sql: """
                SELECT id, \(SearchFilter.time), substr(taken_at, 1, 19) FROM photos
                WHERE \(walk.clause) AND \(SearchFilter.time) IS NOT NULL ORDER BY \(SearchFilter.time) DESC
                """, arguments: StatementArguments(walk.arguments))
            // The (limit + 1)th newest kept so far, as UTC seconds: a photo
            // whose time is a margin below it cannot be newer.
            var bound: Int64?
            var capacity = 2 * (limit + 1)
            while let row = try rows.next() {
                let time: Int64 = row[1]
                if let bound, time + Self.timeMargin < bound { break }
                let id: Int64 = row[0]
                guard allowed?.contains(id) ?? true else { continue }
                // (A time comes from an integer file time, or from an EXIF
                // text SQLite read as a date: ASCII.)
                let date: [UInt8]
                if let taken = row[2] as String? {
                    date = Array(taken.utf8)
                } else if let known = rendered[time] {
                    date = known
                } else {
                    date = Array((try String.fetchOne(render, arguments: [time * 1_000_000_000]) ?? "").utf8)
                    rendered[time] = date
                }
                if let last, !newer(last, (id, text, date)) { continue }
                kept.append((id, text, date))
                if kept.count >= capacity {
                    kept.sort(by: newer)
                    kept.removeLast(kept.count - (limit + 1))
                    bound = SearchFilter.utcSeconds(String(decoding: kept[limit].date, as: UTF8.self))
                    // (Photos of one time do not stop the walk: sort less often.)
                    capacity = min(2 * capacity, max(65_536, 2 * (limit + 1)))
                }
            }
            kept.sort(by: newer)
            return (kept.prefix(limit).map { ($0.id, 0) }, kept.count > limit)
        }
    }

    /// How many photos `filter` lets through (all indexed photos without
    /// one), `excluded` (the photo `similar` starts from) left out.
    func count(_ filter: SearchFilter, excluding excluded: Int64? = nil) throws(PhotoIndexError) -> Int {
        if filter.near != nil {
            let allowed = try allowedPhotos(filter)
            return (allowed?.count ?? 0) - (excluded.map { allowed?.contains($0) == true ? 1 : 0 } ?? 0)
        }
        try check(filter)
        let (clause, arguments) = filter.sql()
        return try database.read { db in
            // The excluded photo, counted below when the filter lets it through.
            let passing = try excluded.map { excluded in
                try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM photos WHERE id = ? AND \(clause))",
                                  arguments: StatementArguments([excluded] + arguments)) == true ? 1 : 0
            } ?? 0
            // (An index made before v7, read where it cannot be upgraded, lacks photos_failed.)
            guard filter.isEmpty, try Self.hasIndex("photos_failed", db) else {
                var total = 0
                for part in try Self.parts(filter, db) {
                    total += try Int.fetchOne(db, sql: "SELECT COUNT(*) \(part.sql)", arguments: part.arguments) ?? 0
                }
                return total - passing
            }
            // Every photo but the failed ones, without reading each row: a
            // bare COUNT(*) counts a table from its pages, and the failed
            // ones are few (two statements: a COUNT(*) inside another
            // query reads every row).
            let all = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM photos") ?? 0
            let failed = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM photos INDEXED BY photos_failed WHERE state = 'failed'") ?? 0
            return all - failed - passing
        }
    }

    /// The best `top` of `ranked` described, byte-identical copies shown
    /// once (the best-ranked, with the paths of all its copies, ranked or
    /// not): described `top` at a time until `top` distinct photos are
    /// found or `ranked` runs out.
    private func withCopies(_ ranked: [(key: Int64, value: Float)], top: Int) throws(PhotoIndexError) -> [SearchHit] {
        var hits: [SearchHit] = []
        var shown = Set<String>()
        var next = 0
        while hits.count < top, next < ranked.count {
            // All `top` at first; then as many again, and more, while copies collapse.
            let chunk = Array(ranked[next..<min(ranked.count, next + max(top - hits.count, next))])
            next += chunk.count
            for hit in try describe(chunk) where hits.count < top && hit.content.map({ shown.insert($0).inserted }) ?? true {
                hits.append(hit)
            }
        }
        let contents = hits.compactMap(\.content)
        guard !contents.isEmpty else { return hits }
        let copies = try database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT CAST(path AS TEXT) AS path, content_hash || '/' || size AS content FROM photos
                WHERE state = 'indexed' AND content_hash || '/' || size IN (\(contents.map { _ in "?" }.joined(separator: ",")))
                  AND content_hash IN (\(contents.map { _ in "?" }.joined(separator: ",")))
                ORDER BY path
                """, arguments: StatementArguments(contents + contents.map { String($0.prefix { $0 != "/" }) }))
        }
        var pathsByContent: [String: [String]] = [:]
        for row in copies { pathsByContent[row["content"], default: []].append(row["path"]) }
        for index in hits.indices {
            guard let content = hits[index].content else { continue }
            hits[index].copies = (pathsByContent[content] ?? []).filter { $0 != hits[index].path }
        }
        return hits
    }

    /// Every indexed photo's vector as SQLite holds it (float16), or those
    /// of the photos under `folder` (absolute), in photo order, for
    /// all-pairs work (duplicates): ten million vectors of 512 in 10 GB,
    /// reserved at once (growing the array would copy it). A blob of the
    /// wrong size (a damaged row) is left out.
    func allVectors(under folder: String? = nil) throws(PhotoIndexError) -> (photoIDs: [Int64], rows: HalfRows) {
        let dimension = model.embeddingSize
        var (from, arguments): (String, StatementArguments) = ("embeddings e WHERE e.model_id = ?", [model.id])
        if let folder {
            let range = SearchFilter.paths(under: folder)
            from = "embeddings e JOIN photos p ON p.id = e.photo_id WHERE e.model_id = ? AND p.path >= ? AND p.path < ?"
            arguments = [model.id, range.from, range.before]
        }
        let (ids, bytes) = try database.read { db in
            let expected = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(from)", arguments: arguments) ?? 0
            var ids: [Int64] = []
            var bytes: [UInt8] = []
            ids.reserveCapacity(expected)
            bytes.reserveCapacity(expected * dimension * 2)
            let cursor = try Row.fetchCursor(db, sql: "SELECT e.photo_id, e.vector FROM \(from) ORDER BY e.photo_id", arguments: arguments)
            while let row = try cursor.next() {
                let usable = try row.withUnsafeData(atIndex: 1) { blob -> Bool in
                    guard let blob, blob.count == dimension * 2 else { return false }
                    blob.withUnsafeBytes { bytes.append(contentsOf: $0) }
                    return true
                }
                if usable { ids.append(row[0]) }
            }
            return (ids, bytes)
        }
        if let folder, ids.isEmpty { throw .noPhotosInFolder(path: folder) }
        return (ids, HalfRows(bytes: bytes, dimension: dimension))
    }

    /// What tells copies apart, for photo ids (those still indexed), with
    /// each one's content hash.
    func describeFiles(_ ids: [Int64]) throws(PhotoIndexError) -> [(id: Int64, photo: DuplicatePhoto, contentHash: String?)] {
        guard !ids.isEmpty else { return [] }
        return try database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT id, CAST(path AS TEXT) AS path, size, width, height, \(SearchFilter.takenText("taken_at")) AS taken_at,
                       NULLIF(content_hash, '') AS content_hash,
                       \(SearchFilter.fileDate("modified_at")) AS modified
                FROM photos WHERE state = 'indexed' AND id IN (\(ids.map { _ in "?" }.joined(separator: ",")))
                """, arguments: StatementArguments(ids)).map { row in
                let taken: String? = row["taken_at"]
                return (row["id"], DuplicatePhoto(path: row["path"], size: row["size"], width: row["width"], height: row["height"],
                                                  takenAt: taken ?? row["modified"], hasCameraDate: taken != nil, identicalTo: nil),
                        row["content_hash"])
            }
        }
    }

    /// A statement with `count` values in a list: cached (compiling it took
    /// longer than running it) for the few short lists searches repeat, not
    /// for every length a stranger's `top` could ask for.
    static func statement(_ db: Database, for count: Int, sql: String) throws -> Statement {
        count <= 128 ? try db.cachedStatement(sql: sql) : try db.makeStatement(sql: sql)
    }

    /// Paths and dates for photo ids, in the given order. (As text: an
    /// index may hold a date as a blob of anything, which GRDB would not
    /// turn into a string; SQLite's text is read as UTF-8, mended.)
    func describe(_ ranked: [(key: Int64, value: Float)]) throws(PhotoIndexError) -> [SearchHit] {
        guard !ranked.isEmpty else { return [] }
        let rows = try database.read { db in
            try Row.fetchAll(Self.statement(db, for: ranked.count, sql: """
                SELECT p.id, CAST(p.path AS TEXT) AS path, \(SearchFilter.takenText("p.taken_at")) AS taken_at,
                       NULLIF(p.content_hash, '') || '/' || p.size AS content,
                       \(SearchFilter.fileDate("p.modified_at")) AS modified,
                       \(PhotoPlace.columns)
                FROM photos p LEFT JOIN places pl ON pl.id = p.place_id
                WHERE p.id IN (\(ranked.map { _ in "?" }.joined(separator: ",")))
                """), arguments: StatementArguments(ranked.map(\.key)))
        }
        var byID: [Int64: Row] = [:]
        for row in rows { byID[row["id"]] = row }
        return ranked.compactMap { entry in
            guard let row = byID[entry.key] else { return nil }
            let taken: String? = row["taken_at"]
            return SearchHit(photoID: entry.key, path: row["path"], score: entry.value,
                             takenAt: taken ?? row["modified"], hasCameraDate: taken != nil, place: PhotoPlace(row: row),
                             content: row["content"])
        }
    }

    // MARK: The matrix

    /// The matrix every search starts from: the one in memory, else the file
    /// (when it is for this model and not too far behind), else a new file.
    ///
    /// A file changed in place since it was mapped (a backup copied over it)
    /// is let go and opened again: its mapping would show the new bytes,
    /// under the old file's checks, and past a shorter file's end a read is
    /// SIGBUS. (A search already scanning it when it changes is not
    /// protected: one stat per search narrows the window to that search.)
    func currentMatrix() throws(PhotoIndexError) -> VectorMatrix {
        if let matrix = cached.withLock({ $0 }), !matrix.isChangedInPlace { return matrix }
        return try building.withLock { _ throws(PhotoIndexError) -> VectorMatrix in
            if let matrix = cached.withLock({ $0 }) {
                guard matrix.isChangedInPlace else { return matrix }   // another thread just loaded it
                cached.withLock { $0 = nil }
            }
            let (existing, current) = try fileOnDisk()
            if let existing, current {
                cached.withLock { $0 = existing }
                return existing
            }
            return try writeMatrix(previous: existing)
        }
    }

    /// The vector file as it is on disk, if it is for this model, sound, and
    /// built from a state of this index's history (`IndexDatabase.hasGeneration`),
    /// and whether it is current: not too far behind the index. (Rows added
    /// since are read from SQLite on every search, an index range, cheap to
    /// count; rows deleted or replaced since are caught when they crowd the
    /// candidates, see `search`.)
    private func fileOnDisk() throws(PhotoIndexError) -> (matrix: VectorMatrix?, current: Bool) {
        let path = VectorMatrix.path(forIndex: database.path)
        guard let existing = VectorMatrix(path: path, modelChecksum: model.checksum, dimension: model.embeddingSize) else { return (nil, false) }
        let newer = try database.read { db -> Int? in
            guard try IndexDatabase.hasGeneration(existing.generation, db) else { return nil }
            return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM embeddings WHERE model_id = ? AND id > ?",
                                    arguments: [model.id, existing.highestEmbeddingID]) ?? 0
        }
        // Another index's file, or written after the state a backup restored:
        // neither its rows nor its cells are this index's.
        guard let newer else { return (nil, false) }
        return (existing, newer <= Self.rebuildThreshold(rows: existing.rows))
    }

    /// A matrix newer than `stale`: the file on disk if another process
    /// (an index run) wrote a current one since, else written now, unless
    /// another thread already replaced `stale` meanwhile (nil: written now,
    /// whatever).
    func rebuildMatrix(replacing stale: VectorMatrix? = nil) throws(PhotoIndexError) -> VectorMatrix {
        try building.withLock { _ throws(PhotoIndexError) -> VectorMatrix in
            let current = cached.withLock { $0 }
            if let stale, let current, current !== stale { return current }
            if let stale {
                let (onDisk, isCurrent) = try fileOnDisk()
                if let onDisk, isCurrent, onDisk.highestEmbeddingID > stale.highestEmbeddingID {
                    cached.withLock { $0 = onDisk }
                    return onDisk
                }
            }
            return try writeMatrix(previous: current)
        }
    }

    /// At the end of an index run: the vector file written again if the run
    /// left it too far behind, so that the next search need not (at ten
    /// million photos that is a minute). An index no search has written a
    /// file for yet gets none: the first search writes it.
    func refreshStaleFile() throws(PhotoIndexError) {
        try building.withLock { _ throws(PhotoIndexError) in
            let (existing, current) = try fileOnDisk()
            guard let existing, !current else { return }
            _ = try writeMatrix(previous: existing)
        }
    }

    /// Builds the matrix (into the vector file, or in memory when that cannot
    /// be written) and makes it the shared one, keeping the cells of
    /// `previous`. Called with `building` held.
    private func writeMatrix(previous: VectorMatrix?) throws(PhotoIndexError) -> VectorMatrix {
        let built = try VectorMatrix.build(database: database, model: model, path: VectorMatrix.path(forIndex: database.path),
                                           partitioning: partitioning, previous: previous)
        cached.withLock { $0 = built }
        return built
    }

    private func vectorsAdded(after id: Int64) throws(PhotoIndexError) -> [(Int64, [Float])] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT photo_id, vector FROM embeddings WHERE model_id = ? AND id > ?",
                             arguments: [model.id, id]).map { ($0["photo_id"], VectorBlob.vector($0["vector"])) }
        }
    }

    /// The exact scores, by photo, of the candidates (best first) whose
    /// embeddings SQLite still has: one whose row was deleted or replaced
    /// since the matrix was written is left out. The best `needed` (and any
    /// tied with the last) are checked; only when one of them is gone are
    /// all the others too. With how many were checked and how many of those
    /// were gone (many: the matrix is stale). Looked up in the `(model_id, id)` index (covering:
    /// SQLite's plan takes it), whose pages are a few bytes a row; the
    /// table's, a kilobyte a row, were where a search at ten million photos
    /// spent most of its time.
    private func liveScores(of candidates: [(score: Float, item: Int)], in matrix: VectorMatrix,
                            needed: Int) throws(PhotoIndexError) -> ([Int64: Float], gone: (count: Int, checked: Int)) {
        let (embeddingIDs, photoIDs) = matrix.withParts { parts in
            (candidates.map { parts.embeddingIDs[$0.item] }, candidates.map { parts.photoIDs[$0.item] })
        }
        func live(_ ids: ArraySlice<Int64>) throws(PhotoIndexError) -> Set<Int64> {
            guard !ids.isEmpty else { return [] }
            return try database.read { db in
                let statement = try Self.statement(db, for: ids.count, sql: """
                    SELECT id FROM embeddings WHERE model_id = ? AND id IN (\(ids.map { _ in "?" }.joined(separator: ",")))
                    """)
                var arguments: StatementArguments = [model.id]
                arguments += StatementArguments(Array(ids))
                return try Set(Int64.fetchAll(statement, arguments: arguments))
            }
        }
        // (And those tied with the last of them: ties rank by photo id, later.)
        var checked = min(needed, candidates.count)
        while checked > 0, checked < candidates.count, candidates[checked].score == candidates[checked - 1].score { checked += 1 }
        var found = try live(embeddingIDs[..<checked])
        if found.count < checked {
            found.formUnion(try live(embeddingIDs[checked...]))
            checked = candidates.count
        }
        var scores: [Int64: Float] = [:]
        for (index, candidate) in candidates.enumerated() where found.contains(embeddingIDs[index]) && candidate.score.isFinite {
            scores[photoIDs[index]] = candidate.score
        }
        return (scores, (checked - found.count, checked))
    }

    /// The photos a filter lets through, or nil for every photo. A place
    /// name no photo was taken in is an error, not an empty result: it is
    /// more often a typo than a question.
    func allowedPhotos(_ filter: SearchFilter) throws(PhotoIndexError) -> PhotoSet? {
        guard !filter.isEmpty else { return nil }
        try check(filter)
        return try database.read { db in
            var allowed = PhotoSet()
            for part in try Self.parts(filter, db) {
                if let near = filter.near {
                    let rows = try Row.fetchCursor(db, sql: "SELECT id, latitude, longitude \(part.sql)", arguments: part.arguments)
                    while let row = try rows.next() {
                        if near.contains(latitude: row[1], longitude: row[2]) { allowed.insert(row[0]) }
                    }
                } else {
                    let ids = try Int64.fetchCursor(db, sql: "SELECT id \(part.sql)", arguments: part.arguments)
                    while let id = try ids.next() { allowed.insert(id) }
                }
            }
            return allowed
        }
    }

    /// The photos `filter` lets through as "FROM photos … WHERE …" parts
    /// whose rows together are those photos, each once. One part reads
    /// every row; with date bounds whose range of times
    /// (`SearchFilter.timeRange`) holds under a quarter of the photos, two
    /// read the time index instead (index schema v8): that range, and the
    /// photos without a time (EXIF dates SQLite does not read). At 100 000
    /// photos, finding a month's photos among all the rows took 42 ms.
    static func parts(_ filter: SearchFilter, _ db: Database) throws -> [(sql: String, arguments: StatementArguments)] {
        let (clause, arguments) = filter.sql()
        // Unless a place, a position or a folder narrows the rows through
        // an index of its own, every row is read in the table's order: left
        // to itself SQLite reads the time index for `state = 'indexed'`
        // and looks each row up (95 instead of 55 ms for a name filter at
        // 100 000 photos).
        let scan = filter.places.isEmpty && filter.near == nil && filter.folder == nil
        let whole: [(sql: String, arguments: StatementArguments)] = [("FROM photos\(scan ? " NOT INDEXED" : "") WHERE \(clause)",
                                                                      StatementArguments(arguments))]
        guard let range = filter.timeRange, try hasIndex("photos_by_time", db) else { return whole }
        // (Counted from the index alone, a quarter of it at most.)
        let all = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM photos") ?? 0
        let inside = try Int.fetchOne(db, sql: """
            SELECT COUNT(*) FROM (SELECT 1 FROM photos INDEXED BY photos_by_time WHERE state = 'indexed' AND \(range.clause) LIMIT ?)
            """, arguments: StatementArguments(range.arguments + [all / 4 + 1])) ?? 0
        guard inside <= all / 4 else { return whole }
        return [(sql: "FROM photos WHERE \(clause) AND \(range.clause)", arguments: StatementArguments(arguments + range.arguments)),
                (sql: "FROM photos WHERE \(clause) AND \(SearchFilter.time) IS NULL", arguments: StatementArguments(arguments))]
    }

    /// Whether the index has the SQL index `name` (one made before the
    /// schema version that added it, read where it cannot be upgraded, has not).
    static func hasIndex(_ name: String, _ db: Database) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?)", arguments: [name]) == true
    }

    /// Refuses a filter that is malformed, too large for one request, or
    /// names a folder or place the index has no photo in.
    func check(_ filter: SearchFilter) throws(PhotoIndexError) {
        for (name, values, what) in [("place", filter.places, "place names"), ("name", filter.names, "file names"), ("camera", filter.cameras, "cameras")]
        where values.count > SearchFilter.maximumPlaces {
            throw .invalidArgument(name: name, reason: "\(values.count) \(what) given, more than \(SearchFilter.maximumPlaces)")
        }
        for (name, values) in [("name", filter.names), ("camera", filter.cameras)] {
            if values.contains(where: \.isEmpty) { throw .invalidArgument(name: name, reason: "it is empty") }
            // A file name is at most 255 bytes; a pattern's cost grows with its wildcards.
            if let long = values.first(where: { $0.utf8.count > 255 }) {
                throw .invalidArgument(name: name, reason: "\"\(long.prefix(40))…\" is \(long.utf8.count) bytes long, more than 255")
            }
            if let wild = values.first(where: { pattern in pattern.filter { "*?[".contains($0) }.count > 16 }) {
                throw .invalidArgument(name: name, reason: "\"\(wild.prefix(40))\" has more than 16 wildcards")
            }
        }
        // An unclosed set matches no name at all: a mistake to say, not an empty answer.
        if let open = filter.names.first(where: SearchFilter.hasUnclosedSet) {
            throw .invalidArgument(name: "name", reason: "\"\(open.prefix(40))\" opens a [ set that no ] closes (a [ itself is written [[])")
        }
        try database.read { db in
            if let folder = filter.folder {
                let range = SearchFilter.paths(under: folder)
                let any = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM photos WHERE path >= ? AND path < ? AND state = 'indexed')",
                                            arguments: [range.from, range.before]) ?? false
                if !any { throw PhotoIndexError.noPhotosInFolder(path: folder) }
            }
            for name in filter.places {
                guard !PlaceDirectory.searchKey(name).isEmpty else {
                    throw PhotoIndexError.invalidArgument(name: "place", reason: "\"\(name.prefix(60))\" has no letters or digits")
                }
                let known = try Bool.fetchOne(db, sql: """
                    SELECT EXISTS (SELECT 1 FROM place_names n JOIN photos p ON p.place_id = n.place_id WHERE n.key = ?)
                    """, arguments: [PlaceDirectory.searchKey(name)]) ?? false
                if !known { throw PhotoIndexError.unknownPlace(name) }
            }
        }
    }

    // MARK: Scanning

    /// The best `capacity` rows of the matrix for `query`: the best `coarse`
    /// by the 4-bit rows (every core) of every row, or of the `probes`
    /// cells nearest the query, then ranked by their exact scores (float16
    /// rows, summed left to right as `VectorMath.dot`), best first. With a
    /// filter that allows few photos (or too few in the probed cells), every
    /// row is checked against it first and only its photos are scored.
    func scan(_ matrix: VectorMatrix, query: [Float], coarse: Int, capacity: Int, allowed: PhotoSet?,
              probes: Int? = nil) -> [(score: Float, item: Int)] {
        let rows = matrix.rows
        guard rows > 0 else { return [] }
        var merged: TopK
        if matrix.cellCount > 0 {
            let cells = matrix.nearestCells(to: query, count: min(matrix.cellCount, max(1, probes ?? Partitioning.probes(cells: matrix.cellCount))),
                                            rows: capacity)
            let scanned = cells.reduce(0) { $0 + $1.count }
            if let allowed, allowed.count * scanned / rows < coarse {
                merged = coarseScan(matrix, query: query, segments: [0..<rows], coarse: coarse, allowed: allowed, checkingFirst: true)
            } else {
                merged = coarseScan(matrix, query: query, segments: cells, coarse: coarse, allowed: allowed, checkingFirst: false)
                // The filter's photos are elsewhere: not enough of them in these cells to rank.
                if let allowed, merged.count < coarse {
                    merged = coarseScan(matrix, query: query, segments: [0..<rows], coarse: coarse, allowed: allowed, checkingFirst: true)
                }
            }
        } else {
            merged = coarseScan(matrix, query: query, segments: [0..<rows], coarse: coarse, allowed: allowed,
                                checkingFirst: allowed.map { $0.count < rows / 32 } ?? false)
        }
        let dimension = matrix.dimension
        // Ranked by the float16 rows in the kernels' vector sums (a row's
        // serial sum waits on each addition: 400 of them were a third of a
        // search), then the best given their scores as `VectorMath.dot`
        // sums them, the scores every other path gives, on every CPU.
        let kernels = Kernels.active
        let candidates = merged.sorted().map { Int64($0.item) }
        var ranking = [Float](repeating: 0, count: candidates.count)
        var refined = TopK(capacity: capacity)
        var vector = [Float](repeating: 0, count: dimension)
        var exact: [(score: Float, item: Int)] = []
        matrix.withParts { matrix in
            query.withUnsafeBufferPointer { query in
                candidates.withUnsafeBufferPointer { kernels.dotHalves(query, halves: matrix.halves, rows: $0, into: &ranking) }
                for (index, row) in candidates.enumerated() { refined.insert(ranking[index], Int(row)) }
                vector.withUnsafeMutableBufferPointer { vector in
                    for candidate in refined.sorted() {
                        VectorMath.decodeHalves(UnsafeRawBufferPointer(start: matrix.halves + candidate.item * 2 * dimension, count: 2 * dimension),
                                                into: vector.baseAddress!)
                        exact.append((VectorMath.dot(query, UnsafeBufferPointer(vector)), candidate.item))
                    }
                }
            }
        }
        return exact.sorted { $0.score > $1.score || ($0.score == $1.score && $0.item < $1.item) }
    }

    /// The best `coarse` of the rows in `segments` by their 4-bit rows, on
    /// every core. `checkingFirst`: each row's photo is looked up in
    /// `allowed` before it is scored (for filters that allow few), else after
    /// (only rows that would enter the best are looked up).
    private func coarseScan(_ matrix: VectorMatrix, query: [Float], segments: [Range<Int>], coarse: Int, allowed: PhotoSet?,
                            checkingFirst: Bool) -> TopK {
        let kernels = Kernels.active
        let padded = VectorMatrix.paddedDimension(matrix.dimension)
        // 4-bit rows are u = v/s4 + 8: q·v = s_q · s4 · (Σ q·u − 8 · Σ q).
        var query4 = [Int8](repeating: 0, count: padded)
        let scale4 = query.withUnsafeBufferPointer { source in
            query4.withUnsafeMutableBufferPointer { VectorMath.quantize(source, limit: 127, into: $0.baseAddress!) }
        }
        let offset4 = 8 * query4.reduce(Int32(0)) { $0 + Int32($1) }
        // The segments' rows numbered one after another, split across the
        // cores: two megabytes of 4-bit rows (8 192 rows of 512) before a
        // second core helps.
        let total = segments.reduce(0) { $0 + $1.count }
        let ranges = Parallel.ranges(of: total, work: total * padded / 2, minimumWork: 2 << 20)
        let parts = ranges.count
        let heaps = UnsafeMutableBufferPointer<TopK>.allocate(capacity: parts)
        defer { heaps.deallocate() }
        let heapsPointer = SendableMutablePointer(heaps.baseAddress!)
        matrix.withParts { matrix in
            let vectors4 = SendablePointer(matrix.vectors4), scales4 = SendablePointer(matrix.scales4)
            let photoIDs = SendablePointer(matrix.photoIDs)
            query4.withUnsafeBufferPointer { queryBuffer in
                let queryPointer = SendablePointer(queryBuffer.baseAddress!)
                Parallel.run(ranges) { part, numbered in
                    var heap = TopK(capacity: coarse)
                    let block = 4096
                    var dots = [Int32](repeating: 0, count: block)
                    var first = 0   // the number of the segment's first row
                    for segment in segments {
                        defer { first += segment.count }
                        let from = max(numbered.lowerBound, first), to = min(numbered.upperBound, first + segment.count)
                        guard from < to else { continue }
                        var row = segment.lowerBound + from - first
                        let end = segment.lowerBound + to - first
                        while row < end {
                            let count = min(block, end - row)
                            if checkingFirst, let allowed {
                                for index in row..<(row + count) where allowed.contains(photoIDs.pointer[index]) {
                                    var dot: Int32 = 0
                                    kernels.dotU4(query: queryPointer.pointer, rows: vectors4.pointer + index * padded / 2, count: 1,
                                                  dimension: padded, into: &dot)
                                    heap.insert(Float(dot - offset4) * scale4 * scales4.pointer[index], index)
                                }
                                row += count
                                continue
                            }
                            dots.withUnsafeMutableBufferPointer { out in
                                kernels.dotU4(query: queryPointer.pointer, rows: vectors4.pointer + row * padded / 2, count: count,
                                              dimension: padded, into: out.baseAddress!)
                            }
                            for offset in 0..<count {
                                let index = row + offset
                                let score = Float(dots[offset] - offset4) * scale4 * scales4.pointer[index]
                                if score > heap.threshold {
                                    if let allowed, !allowed.contains(photoIDs.pointer[index]) { continue }
                                    heap.insert(score, index)
                                }
                            }
                            row += count
                        }
                    }
                    (heapsPointer.pointer + part).initialize(to: heap)
                }
            }
        }
        var merged = TopK(capacity: coarse)
        for part in 0..<parts {
            merged.merge(heaps[part])
            (heaps.baseAddress! + part).deinitialize(count: 1)
        }
        return merged
    }
}
