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
package enum PlaceAssignment {
    /// The data version and the name folding the stored places come from.
    package static func stamp() throws(PhotoIndexError) -> Int {
        do {
            return try PlaceDirectory.builtInDataVersion() * 1000 + PlaceDirectory.searchKeyVersion
        } catch {
            throw .places(reason: error.description)
        }
    }

    /// The photos whose place is to be derived, for a stamp given as the
    /// one argument: a position, and no place derived with that stamp.
    private static let stale = "latitude IS NOT NULL AND longitude IS NOT NULL AND (place_stamp IS NULL OR place_stamp != ?)"

    /// Brings every photo's place up to date. Returns how many photos were
    /// given one (or found to be too far from any).
    @discardableResult
    package static func update(_ database: IndexDatabase, cancellation: CancellationFlag = CancellationFlag()) throws(PhotoIndexError) -> Int {
        let stamp = try stamp()
        let (stalePhotos, stalePlaces) = try database.read { db in
            (try Bool.fetchOne(db, sql: """
                SELECT EXISTS (SELECT 1 FROM photos WHERE \(stale))
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
        if cancellation.isCancelled { return 0 }
        // One transaction: a photo's index entry moves from NULL to its place
        // anywhere in photos_by_place, and in chunks each chunk wrote most
        // of that index again (3 × the pages, at 100 000 photos). Readers
        // go on meanwhile (WAL).
        return try database.write { db in
            let positions = try Row.fetchAll(db, sql: """
                SELECT id, latitude, longitude FROM photos WHERE \(stale)
                """, arguments: [stamp]).map { (id: $0[0] as Int64, latitude: $0[1] as Double, longitude: $0[2] as Double) }
            let found = positions.map { directory.nearest(latitude: $0.latitude, longitude: $0.longitude) }
            // Places new to the index, with every name they can be found by.
            let stored = Set(try Int64.fetchAll(db, sql: "SELECT id FROM places"))
            var added = Set<Int>()
            var places: [[(any DatabaseValueConvertible)?]] = [], names: [[(any DatabaseValueConvertible)?]] = []
            for case let nearest? in found where !stored.contains(Int64(nearest.place.id)) && added.insert(nearest.place.id).inserted {
                let place = nearest.place
                places.append([place.id, stamp, place.name, place.region, place.countryCode, place.country, place.latitude,
                               place.longitude, place.population])
                for (key, kind) in directory.searchKeys(of: place.id) { names.append([key, place.id, kind.rawValue]) }
            }
            try insert(places, into: "places (id, stamp, name, region, country_code, country, latitude, longitude, population)", db)
            try insert(names, into: "place_names (key, place_id, kind)", db)
            // The photos' places, through a temporary table and one UPDATE:
            // a statement per photo cost 11 µs each, mostly binding.
            try db.execute(sql: "CREATE TEMP TABLE IF NOT EXISTS place_assignments (photo INTEGER PRIMARY KEY, place INTEGER, distance REAL)")
            try db.execute(sql: "DELETE FROM temp.place_assignments")
            try insert(zip(positions, found).map { [$0.id, $1.map { Int64($0.place.id) }, $1?.distanceKilometres] },
                       into: "temp.place_assignments (photo, place, distance)", db)
            try db.execute(sql: """
                UPDATE photos SET place_id = a.place, place_distance = a.distance, place_stamp = ?
                FROM temp.place_assignments a WHERE photos.id = a.photo
                """, arguments: [stamp])
            try db.execute(sql: "DELETE FROM temp.place_assignments")
            return positions.count
        }
    }

    /// Inserts `rows` (each as many values as `target` names columns),
    /// 200 rows a statement.
    private static func insert(_ rows: [[(any DatabaseValueConvertible)?]], into target: String, _ db: Database) throws {
        guard let width = rows.first?.count else { return }
        let batch = 200
        let tuple = "(" + Array(repeating: "?", count: width).joined(separator: ",") + ")"
        var statements: [Int: Statement] = [:]
        for start in stride(from: 0, to: rows.count, by: batch) {
            let part = rows[start..<min(start + batch, rows.count)]
            let statement = try statements[part.count] ?? db.makeStatement(
                sql: "INSERT INTO \(target) VALUES " + Array(repeating: tuple, count: part.count).joined(separator: ","))
            statements[part.count] = statement
            statement.setUncheckedArguments(StatementArguments(part.flatMap { $0 }))
            try statement.execute()
        }
    }
}
