import Compute
import CLIP
import Foundation
import GRDB

/// One photo file the index knows about, indexed or failed.
public struct PhotoRecord: Codable, FetchableRecord, MutablePersistableRecord, Sendable, Equatable {
    public static let databaseTableName = "photos"

    public enum State: String, Codable, Sendable, DatabaseValueConvertible {
        case indexed, failed
    }

    public var id: Int64?
    public var path: String
    public var size: Int64
    /// st_mtim in nanoseconds since 1970.
    public var modifiedAt: Int64
    /// XXH64 of the content, 16 hex digits (see `ContentHash`).
    public var contentHash: String?
    public var width: Int?
    public var height: Int?
    /// EXIF date taken ("YYYY-MM-DDTHH:MM:SS", camera-local time, plus offset when known).
    public var takenAt: String?
    public var camera: String?
    public var latitude: Double?
    public var longitude: Double?
    public var state: State
    public var lastError: String?
    /// When this row was last written, ISO 8601 UTC.
    public var updatedAt: String
    /// The place the photo was taken in (a row of `places`), derived from
    /// its position by `PlaceAssignment`: nil until then, and for a position
    /// farther than `PlaceDirectory.maximumDistanceKilometres` from any place.
    public var placeID: Int64? = nil
    /// Kilometres from the position to the place.
    public var placeDistance: Double? = nil
    /// The `PlaceAssignment.stamp` the place was derived with; nil until it was.
    public var placeStamp: Int? = nil

    public enum Columns {
        public static let id = Column(CodingKeys.id)
        public static let path = Column(CodingKeys.path)
        public static let size = Column(CodingKeys.size)
        public static let modifiedAt = Column(CodingKeys.modifiedAt)
        public static let contentHash = Column(CodingKeys.contentHash)
        public static let state = Column(CodingKeys.state)
        public static let lastError = Column(CodingKeys.lastError)
        public static let takenAt = Column(CodingKeys.takenAt)
    }

    enum CodingKeys: String, CodingKey {
        case id, path, size, width, height, camera, latitude, longitude, state
        case modifiedAt = "modified_at", contentHash = "content_hash", takenAt = "taken_at"
        case lastError = "last_error", updatedAt = "updated_at"
        case placeID = "place_id", placeDistance = "place_distance", placeStamp = "place_stamp"
    }

    /// The photo's date as every result gives it (`SearchFilter.date`):
    /// its EXIF date taken, else its file's modification time in local
    /// time, "YYYY-MM-DDTHH:MM:SS"; and whether it came from EXIF.
    public var date: (value: String, fromEXIF: Bool) {
        if let takenAt { return (takenAt, true) }
        return (LocalTimestamp.string(from: Date(timeIntervalSince1970: Double(modifiedAt / 1_000_000_000))), false)
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

/// The model whose embeddings an index holds.
public struct ModelRecord: Codable, FetchableRecord, MutablePersistableRecord, Sendable, Equatable {
    public static let databaseTableName = "models"

    public var id: Int64?
    public var name: String
    public var embeddingSize: Int
    /// The arithmetic the embeddings were computed in; a search embeds its
    /// query in the same.
    public var precision: Precision
    /// "xxh64:" + the hash of the weights file (see `ModelIdentity`).
    public var checksum: String
    /// Where the weights were read from, with size and mtime, so an unchanged
    /// file need not be hashed again.
    public var weightsPath: String?
    public var weightsSize: Int64?
    public var weightsModifiedAt: Int64?
    public var createdAt: String

    enum CodingKeys: String, CodingKey {
        case id, name, checksum, precision
        case embeddingSize = "embedding_size", weightsPath = "weights_path", weightsSize = "weights_size"
        case weightsModifiedAt = "weights_modified_at", createdAt = "created_at"
    }

    package init(id: Int64? = nil, name: String, embeddingSize: Int, precision: Precision, checksum: String, weightsPath: String?,
                 weightsSize: Int64?, weightsModifiedAt: Int64?, createdAt: String) {
        self.id = id
        self.name = name
        self.embeddingSize = embeddingSize
        self.precision = precision
        self.checksum = checksum
        self.weightsPath = weightsPath
        self.weightsSize = weightsSize
        self.weightsModifiedAt = weightsModifiedAt
        self.createdAt = createdAt
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }

    /// The model whose vectors the index holds (an index holds one model's).
    package static func current(_ db: Database) throws -> ModelRecord? {
        try ModelRecord.order(Column(CodingKeys.id).desc).fetchOne(db)
    }
}

/// One `photosearch index` run, for status and for resuming after a kill.
public struct RunRecord: FetchableRecord, MutablePersistableRecord, Sendable, Equatable {
    public static let databaseTableName = "runs"

    public enum Status: String, Codable, Sendable, DatabaseValueConvertible {
        case running, completed, interrupted, failed
    }

    public var id: Int64?
    public var startedAt: String
    public var finishedAt: String?
    public var status: Status
    public var roots: String
    /// What it did (so far, while it runs): kept in the run's own columns,
    /// its `interrupted` told by `status`.
    public var summary = IndexSummary()
    public var error: String?

    public init(startedAt: String, status: Status, roots: String) {
        self.startedAt = startedAt
        self.status = status
        self.roots = roots
    }

    public init(row: Row) throws {
        id = row["id"]
        startedAt = row["started_at"]
        finishedAt = row["finished_at"]
        status = row["status"]
        roots = row["roots"]
        error = row["error"]
        summary = IndexSummary(scanned: row["scanned"], added: row["added"], updated: row["updated"], unchanged: row["unchanged"],
                               moved: row["moved"], removed: row["removed"], failed: row["failed"], seconds: row["seconds"],
                               interrupted: status == .interrupted)
    }

    public func encode(to container: inout PersistenceContainer) throws {
        container["id"] = id
        container["started_at"] = startedAt
        container["finished_at"] = finishedAt
        container["status"] = status
        container["roots"] = roots
        container["error"] = error
        for (column, value) in [("scanned", summary.scanned), ("added", summary.added), ("updated", summary.updated),
                                ("unchanged", summary.unchanged), ("moved", summary.moved), ("removed", summary.removed),
                                ("failed", summary.failed)] {
            container[column] = value
        }
        container["seconds"] = summary.seconds
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

/// One model's vector of one photo: float16, L2-normalised (`VectorBlob`).
/// Written with INSERT OR REPLACE, which gives a replaced vector a new,
/// higher row id: search reads the rows added since its matrix was built.
package struct EmbeddingRecord: Codable, FetchableRecord, PersistableRecord, Sendable, Equatable {
    package static let databaseTableName = "embeddings"
    package static let persistenceConflictPolicy = PersistenceConflictPolicy(insert: .replace, update: .replace)

    package var photoID: Int64
    package var modelID: Int64
    package var vector: Data

    package init(photoID: Int64, modelID: Int64, vector: Data) {
        self.photoID = photoID
        self.modelID = modelID
        self.vector = vector
    }

    enum CodingKeys: String, CodingKey { case photoID = "photo_id", modelID = "model_id", vector }
}

/// A photo's thumbnail (JPEG, long side ≤ `Thumbnail.longSide`).
package struct ThumbnailRecord: Codable, FetchableRecord, PersistableRecord, Sendable, Equatable {
    package static let databaseTableName = "thumbnails"
    package static let persistenceConflictPolicy = PersistenceConflictPolicy(insert: .replace, update: .replace)

    var photoID: Int64
    var jpeg: Data

    enum CodingKeys: String, CodingKey { case photoID = "photo_id", jpeg }
}

/// The times runs are recorded with: ISO 8601 in UTC ("2026-12-07T15:12:46Z").
package enum Timestamp {
    package static func now() -> String { string(from: Date()) }

    package static func string(from date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}

/// A time as photosearch shows the dates it has no EXIF for: local,
/// "YYYY-MM-DDTHH:MM:SS", as EXIF's (in SQL: `SearchFilter.fileDate`).
enum LocalTimestamp {
    static func string(from date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone.current
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        return formatter.string(from: date)
    }
}
