import Foundation
import GRDB
import Places

/// Derives where photos were taken from their positions: the nearest place
/// of the built-in GeoNames data (`PlaceDirectory`), stored with the photo,
/// and the place itself with all its names in the index's `places` and
/// `place_names` tables, so that a search matches place names without
/// loading the data.
///
/// Run by every index run after its photos are written, under the writer
/// lock: it fills photos indexed since the last run, photos of indexes made
/// before places existed (no re-embedding), and all of them again when the
/// data or the folding of names changes (`stamp`). When nothing is stale it
/// costs three queries and decompresses 16 bytes of the data.
enum PlaceAssignment {
    /// Photos written per transaction.
    static let chunk = 5000

    /// The data version and the name folding the stored places come from.
    static func stamp() throws(PhotoIndexError) -> Int {
        do {
            return try PlaceDirectory.builtInDataVersion() * 1000 + PlaceDirectory.searchKeyVersion
        } catch {
            throw .places(reason: error.description)
        }
    }

    /// Brings every photo's place up to date. Returns how many photos were
    /// given one (or found to be too far from any).
    @discardableResult
    static func update(_ database: IndexDatabase, cancellation: CancellationFlag = CancellationFlag()) throws(PhotoIndexError) -> Int {
        let stamp = try stamp()
        let (stalePhotos, stalePlaces) = try database.read { db in
            (try Bool.fetchOne(db, sql: """
                SELECT EXISTS (SELECT 1 FROM photos WHERE latitude IS NOT NULL AND longitude IS NOT NULL
                               AND (place_stamp IS NULL OR place_stamp != ?))
                """, arguments: [stamp]) ?? false,
             try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM places WHERE stamp != ?)", arguments: [stamp]) ?? false)
        }
        defer {
            // Places no photo is in any more (their photos deleted, or moved
            // on to another position), best effort.
            _ = try? database.write { db in
                try db.execute(sql: "DELETE FROM places WHERE id NOT IN (SELECT place_id FROM photos WHERE place_id IS NOT NULL)")
            }
        }
        guard stalePhotos || stalePlaces else { return 0 }
        let directory: PlaceDirectory
        do {
            directory = try PlaceDirectory.builtIn()
        } catch {
            throw .places(reason: error.description)
        }
        if stalePlaces {
            // Their photos' place_id becomes NULL (ON DELETE SET NULL) and
            // their stamps are stale: all of them are derived again below.
            try database.write { db in try db.execute(sql: "DELETE FROM places WHERE stamp != ?", arguments: [stamp]) }
        }
        let positions = try database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT id, latitude, longitude FROM photos
                WHERE latitude IS NOT NULL AND longitude IS NOT NULL AND (place_stamp IS NULL OR place_stamp != ?)
                """, arguments: [stamp]).map { (id: $0[0] as Int64, latitude: $0[1] as Double, longitude: $0[2] as Double) }
        }
        var stored = Set(try database.read { db in try Int64.fetchAll(db, sql: "SELECT id FROM places") })
        var done = 0
        for start in stride(from: 0, to: positions.count, by: chunk) {
            if cancellation.isCancelled { break }
            let part = positions[start..<min(start + chunk, positions.count)]
            let found = part.map { directory.nearest(latitude: $0.latitude, longitude: $0.longitude) }
            try database.write { db in
                let update = try db.cachedStatement(sql: """
                    UPDATE photos SET place_id = ?, place_distance = ?, place_stamp = ?
                    WHERE id = ? AND latitude = ? AND longitude = ?
                    """)
                for (photo, nearest) in zip(part, found) {
                    if let nearest, stored.insert(Int64(nearest.place.id)).inserted {
                        try insert(nearest.place, stamp: stamp, directory: directory, db)
                    }
                    try update.execute(arguments: [nearest.map { Int64($0.place.id) }, nearest?.distanceKilometres, stamp,
                                                   photo.id, photo.latitude, photo.longitude])
                }
            }
            done += part.count
        }
        return done
    }

    private static func insert(_ place: Place, stamp: Int, directory: PlaceDirectory, _ db: Database) throws {
        try db.execute(sql: """
            INSERT INTO places (id, stamp, name, region, country_code, country, latitude, longitude, population)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [place.id, stamp, place.name, place.region, place.countryCode, place.country,
                             place.latitude, place.longitude, place.population])
        let names = try db.cachedStatement(sql: "INSERT INTO place_names (key, place_id, kind) VALUES (?, ?, ?)")
        for (key, kind) in directory.searchKeys(of: place.id) {
            try names.execute(arguments: [key, place.id, kind.rawValue])
        }
    }
}
