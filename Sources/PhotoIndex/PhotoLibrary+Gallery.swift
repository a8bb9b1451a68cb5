import Compute
import FileAccess
import Foundation
import GRDB
import GRDBSQLite
import Imaging

/// What a gallery (the web server) needs beyond searching: photos by id,
/// their details, thumbnails and files, search by an uploaded image, and
/// results ordered by date.
extension PhotoLibrary {
    /// Orders for a result list.
    public enum Order: String, Sendable, CaseIterable {
        /// Best match first (the search's own order).
        case score
        /// The same top K, newest first by date taken; undated ones last.
        case date
    }

    /// `hits` in `order` (stable: equal dates keep their rank order).
    public static func ordered(_ hits: [SearchHit], by order: Order) -> [SearchHit] {
        guard order == .date else { return hits }
        return hits.enumerated().sorted { a, b in
            switch (a.element.takenAt, b.element.takenAt) {
            case let (x?, y?) where x != y: return x > y
            case (nil, _?): return false
            case (_?, nil): return true
            default: return a.offset < b.offset
            }
        }.map(\.element)
    }

    /// The months photos were taken in ("YYYY-MM", by the date results
    /// show), newest first, with how many: what a date filter can choose
    /// from. Empty without an index.
    ///
    /// SQLite renders a file's time in local time at 1.4 µs a row (125 ms
    /// at 100 000 photos without EXIF dates), so a file time that SQLite
    /// reads through the C library's `localtime_r` as it is (an integer in
    /// UTC years 1971 to 2037: outside 1970–2037 newer SQLite versions map
    /// the year into that range first) is counted here through that same
    /// function, without being rendered; every other date is rendered by
    /// SQLite as `date` does. Rows are read through SQLite's C calls: GRDB's
    /// row values cost as much again. 125 → 22 ms without EXIF dates, 62
    /// → 37 ms with them, at 100 000 photos (Zen 4).
    public func months() throws(PhotoIndexError) -> [(month: String, photos: Int)] {
        let database: IndexDatabase
        do {
            database = try self.database(create: false)
        } catch .indexNotFound {
            return []
        }
        return try database.read { db in
            // A month's bytes and whether SQLite holds them as a blob (an
            // index may hold an EXIF date as a blob of anything), counted
            // apart as SQLite groups them; up to 7 bytes packed in a key
            // with their count (and the blob's in bit 63).
            var counts: [MonthKey: Int] = [:], packed: [UInt64: Int] = [:], byMonth: [Int: Int] = [:], othersSeen = false
            let statement = try db.makeStatement(sql: """
                SELECT CASE WHEN taken_at IS NULL THEN modified_at END,
                       CASE WHEN taken_at IS NOT NULL THEN substr(\(SearchFilter.date), 1, 7) END
                FROM photos NOT INDEXED WHERE state = 'indexed'
                """)
            let rows = try Row.fetchCursor(statement), row = statement.sqliteStatement
            var local = tm()
            while try rows.next() != nil {
                switch sqlite3_column_type(row, 0) {
                case SQLITE_NULL:
                    let type = sqlite3_column_type(row, 1)
                    guard type != SQLITE_NULL else { continue }
                    // (An empty one, from an EXIF date "", has no pointer.)
                    let month = UnsafeRawBufferPointer(start: sqlite3_column_blob(row, 1), count: Int(sqlite3_column_bytes(row, 1)))
                    guard month.count <= 7 else {
                        counts[MonthKey(blob: type == SQLITE_BLOB, bytes: Array(month)), default: 0] += 1
                        continue
                    }
                    let key = month.reduce(0) { $0 << 8 | UInt64($1) } | UInt64(month.count) << 56
                    packed[type == SQLITE_BLOB ? key | 1 << 63 : key, default: 0] += 1
                case SQLITE_INTEGER where Self.localTimes.contains(sqlite3_column_int64(row, 0) / 1_000_000_000):
                    var time = time_t(sqlite3_column_int64(row, 0) / 1_000_000_000)
                    guard localtime_r(&time, &local) != nil else { continue }
                    byMonth[(1900 + Int(local.tm_year)) * 100 + Int(local.tm_mon) + 1, default: 0] += 1
                default:
                    othersSeen = true
                }
            }
            for (month, photos) in byMonth {
                counts[MonthKey(blob: false, bytes: Array(String(format: "%04d-%02d", month / 100, month % 100).utf8)), default: 0] += photos
            }
            for (key, photos) in packed {
                let length = Int(key >> 56 & 7)
                let bytes = (0..<length).map { UInt8(truncatingIfNeeded: key >> (8 * (length - 1 - $0))) }
                counts[MonthKey(blob: key >> 63 == 1, bytes: bytes), default: 0] += photos
            }
            // File times that are not integers in those years (none an
            // indexer writes): as SQLite renders them.
            if othersSeen {
                for row in try Row.fetchAll(db, sql: """
                    SELECT CAST(month AS BLOB), typeof(month) = 'blob', photos FROM (
                        SELECT substr(\(SearchFilter.date), 1, 7) AS month, COUNT(*) AS photos FROM photos NOT INDEXED
                        WHERE state = 'indexed' AND taken_at IS NULL AND NOT (typeof(modified_at) = 'integer'
                            AND modified_at / 1000000000 BETWEEN \(Self.localTimes.lowerBound) AND \(Self.localTimes.upperBound - 1))
                        GROUP BY month)
                    WHERE month IS NOT NULL
                    """) {
                    counts[MonthKey(blob: row[1], bytes: Array((row[0] as Data?) ?? Data())), default: 0] += row[2] as Int
                }
            }
            // Newest first as SQLite orders them: blobs after text, each by
            // its bytes; read as UTF-8, any invalid sequence replaced.
            return counts.sorted { a, b in
                a.key.blob != b.key.blob ? a.key.blob : b.key.bytes.lexicographicallyPrecedes(a.key.bytes)
            }.map { (String(decoding: $0.key.bytes, as: UTF8.self), $0.value) }
        }
    }

    /// A month as SQLite groups them.
    private struct MonthKey: Hashable {
        let blob: Bool
        let bytes: [UInt8]
    }

    /// The file times (seconds since 1970) whose local month `months`
    /// counts itself: UTC years 1971 to 2037.
    static let localTimes: Range<Int64> = 31_536_000..<2_145_916_800

    /// The indexed photo `id`; `noSuchPhoto` when there is none (or it failed to index).
    public func photo(id: Int64) throws(PhotoIndexError) -> PhotoRecord {
        guard let photo = try photos(ids: [id])[id] else { throw .noSuchPhoto(id: id) }
        return photo
    }

    /// The indexed photos among `ids`: a result list's details, a thousand
    /// to a query.
    public func photos(ids: [Int64]) throws(PhotoIndexError) -> [Int64: PhotoRecord] {
        guard !ids.isEmpty else { return [:] }
        let database = try database(create: false)
        return try database.read { db in
            var photos: [Int64: PhotoRecord] = [:]
            for start in stride(from: 0, to: ids.count, by: 1000) {
                let chunk = Array(ids[start..<min(ids.count, start + 1000)])
                for photo in try PhotoRecord.filter(chunk.contains(PhotoRecord.Columns.id))
                    .filter(PhotoRecord.Columns.state == PhotoRecord.State.indexed.rawValue).fetchAll(db) {
                    if let id = photo.id { photos[id] = photo }
                }
            }
            return photos
        }
    }

    /// The photos most like the indexed photo `id` (itself left out).
    public func similar(toPhoto id: Int64, _ options: SearchOptions = SearchOptions()) throws(PhotoIndexError) -> [SearchHit] {
        try similar(toPhoto: id, options, counting: false).hits
    }

    /// `similar(toPhoto:)`, with the photos the filters let through, itself left out.
    public func similarPage(toPhoto id: Int64, _ options: SearchOptions = SearchOptions()) throws(PhotoIndexError) -> SearchPage {
        try similar(toPhoto: id, options, counting: true)
    }

    private func similar(toPhoto id: Int64, _ options: SearchOptions, counting: Bool) throws(PhotoIndexError) -> SearchPage {
        try options.validate()
        let path = try photo(id: id).path
        let searcher = try searcher()
        guard let stored = try searcher.storedVector(path: path) else { throw .noSuchPhoto(id: id) }
        let ranking = try searcher.rank(stored.vector, top: options.reach, minimumScore: try options.scoreBar(nil),
                                        filter: options.filter, excluding: [stored.photoID], probes: options.probes)
        return try page(ranking, options, counting: counting, searcher: searcher, excluding: stored.photoID)
    }

    /// The largest image `search(image:)` takes: a photo a client sends
    /// (`serve` refuses a larger body before reading it).
    public static let maximumImageBytes = 30 << 20

    /// The photos most like an image given as bytes (JPEG, PNG, WebP or
    /// HEIF), which is neither stored nor indexed.
    public func search(image bytes: [UInt8], _ options: SearchOptions = SearchOptions()) throws(PhotoIndexError) -> [SearchHit] {
        try search(image: bytes, options, counting: false).hits
    }

    /// `search(image:)`, with the photos the filters let through.
    public func searchPage(image bytes: [UInt8], _ options: SearchOptions = SearchOptions()) throws(PhotoIndexError) -> SearchPage {
        try search(image: bytes, options, counting: true)
    }

    private func search(image bytes: [UInt8], _ options: SearchOptions, counting: Bool) throws(PhotoIndexError) -> SearchPage {
        try options.validate()
        guard bytes.count <= Self.maximumImageBytes else {
            throw .invalidArgument(name: "image", reason: "it is larger than \(Self.maximumImageBytes >> 20) MB")
        }
        guard models != nil else { throw .noModel }
        let searcher = try searcher()
        let vector = try QueryEncoder(searcher: searcher, models: models).vector(forImage: bytes)
        return try page(try searcher.rank(vector, top: options.reach, minimumScore: try options.scoreBar(nil), filter: options.filter,
                                          probes: options.probes), options, counting: counting, searcher: searcher)
    }

    /// The thumbnail indexing stored for photo `id`, if any: one indexed
    /// read, cheap enough to answer at once.
    public func storedThumbnail(id: Int64) throws(PhotoIndexError) -> [UInt8]? {
        let database = try database(create: false)
        return try database.read { db in
            try Data.fetchOne(db, sql: "SELECT jpeg FROM thumbnails WHERE photo_id = ?", arguments: [id]).map { [UInt8]($0) }
        }
    }

    /// Photo `id`'s thumbnail (JPEG, long side ≤ `Thumbnail.longSide`,
    /// upright): the one indexing stored, or, for a photo indexed before
    /// thumbnails existed, made now from the file and kept when the index
    /// can be written.
    public func thumbnail(id: Int64) throws(PhotoIndexError) -> [UInt8] {
        if let stored = try storedThumbnail(id: id) { return stored }
        // Only from the bytes that were indexed (see `file(id:)`).
        let (photo, original) = try file(id: id)
        let bytes: [UInt8]
        do {
            let decoded = try ImageDecoder().decode(bytes: original, path: photo.path, minimumShortSide: Thumbnail.longSide)
            bytes = try Thumbnail.jpeg(decoded.bitmap)
        } catch {
            throw .unreadableImage(error)
        }
        // Kept when the index can be written, under the indexer's writer
        // lock like every write; while an indexer holds it, not kept.
        if let lock = try? WriterLock(indexPath: databasePath), let writable = try? self.database(create: true), !writable.isReadOnly {
            _ = try? writable.write { db in
                if try PhotoRecord.exists(db, key: id) { try ThumbnailRecord.set(bytes, for: id, db) }
            }
            withExtendedLifetime(lock) {}
        }
        return bytes
    }

    /// Photo `id`'s file and its bytes — only while they are the bytes that
    /// were indexed (the same size, checked before reading, and the same
    /// content hash): a file replaced since, by another photo, by a link to
    /// a huge file elsewhere or by a FIFO, is not served.
    public func file(id: Int64) throws(PhotoIndexError) -> (photo: PhotoRecord, bytes: [UInt8]) {
        let photo = try photo(id: id)
        let file: RegularFile
        do {
            file = try RegularFile(path: photo.path)
        } catch .missing {
            throw .photoGone(path: photo.path)
        } catch {
            throw .photoChanged(path: photo.path)
        }
        guard Int64(file.size) == photo.size, let indexedHash = photo.contentHash, let bytes = try? file.readAll(limit: file.size),
              ContentHash.hex(ContentHash.xxh64(bytes)) == indexedHash else {
            throw .photoChanged(path: photo.path)
        }
        return (photo, bytes)
    }
}
