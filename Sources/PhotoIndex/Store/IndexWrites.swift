import Foundation
import GRDB

/// The index's one write path for photos: every row is written through
/// `PhotoRecord.save`, its vector and thumbnail through their records.
extension PhotoRecord {
    /// Inserts the photo, or updates in place the row that has its path (its
    /// id, and so the rows that point at it, stay). Returns the id.
    @discardableResult
    package mutating func save(_ db: Database) throws -> Int64 {
        let saved = try upsertAndFetch(db, onConflict: ["path"])
        id = saved.id
        return saved.id!
    }

    /// An indexed photo at `path` with what decoding it found.
    package static func indexed(path: String, size: Int64, modifiedAt: Int64, contentHash: String, width: Int?, height: Int?,
                        takenAt: String?, camera: String?, latitude: Double?, longitude: Double?, now: String) -> PhotoRecord {
        PhotoRecord(path: path, size: size, modifiedAt: modifiedAt, contentHash: contentHash, width: width, height: height,
                    takenAt: takenAt, camera: camera, latitude: latitude, longitude: longitude, state: .indexed, lastError: nil,
                    updatedAt: now)
    }

    /// A photo at `path` that could not be indexed, and why.
    static func failed(path: String, size: Int64, modifiedAt: Int64, contentHash: String?, reason: String, now: String) -> PhotoRecord {
        PhotoRecord(path: path, size: size, modifiedAt: modifiedAt, contentHash: contentHash, width: nil, height: nil, takenAt: nil,
                    camera: nil, latitude: nil, longitude: nil, state: .failed, lastError: reason, updatedAt: now)
    }

    /// This photo's metadata for another file with the same content (a copy).
    func copied(to path: String, size: Int64, modifiedAt: Int64, now: String) -> PhotoRecord {
        var copy = self
        copy.id = nil
        copy.path = path
        copy.size = size
        copy.modifiedAt = modifiedAt
        copy.state = .indexed
        copy.lastError = nil
        copy.updatedAt = now
        return copy
    }
}

extension ThumbnailRecord {
    /// Stores `jpeg` as photo `photoID`'s thumbnail, or removes its old one.
    package static func set(_ jpeg: [UInt8]?, for photoID: Int64, _ db: Database) throws {
        if let jpeg {
            try ThumbnailRecord(photoID: photoID, jpeg: Data(jpeg)).insert(db)
        } else {
            _ = try ThumbnailRecord.filter(Column(CodingKeys.photoID) == photoID).deleteAll(db)
        }
    }
}
