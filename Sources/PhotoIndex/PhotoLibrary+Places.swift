import Foundation
import GRDB
import Places

/// A place the index's photos were taken in, and how many.
public struct PlaceCount: Sendable, Equatable {
    /// Stable while the built-in data's version is (`PlaceAssignment.stamp`).
    public var id: Int64
    public var name: String
    public var region: String?
    public var countryCode: String
    public var country: String
    public var latitude: Double
    public var longitude: Double
    /// Indexed photos taken there.
    public var photos: Int
    /// For a lookup by name: whether the name is the place's own (or one of
    /// its alternate names), its region's or its country's.
    public var matchedAs: PlaceNameKind?
}

extension PhotoLibrary {
    /// Where the index's photos were taken: every place with its count of
    /// photos, most photographed first (then by name). With `name`, only the
    /// places a place filter of that name matches (`SearchFilter.places`):
    /// "Paris" lists Paris, France and Paris, Texas.
    public func places(named name: String? = nil) throws(PhotoIndexError) -> [PlaceCount] {
        let database = try database(create: false)
        var arguments: [any DatabaseValueConvertible] = []
        var match = ""
        if let name {
            let key = PlaceDirectory.searchKey(name)
            guard !key.isEmpty else {
                throw .invalidArgument(name: "place", reason: "\"\(name.prefix(60))\" has no letters or digits")
            }
            match = "JOIN place_names n ON n.place_id = pl.id AND n.key = ?"
            arguments.append(key)
        }
        return try database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT pl.id, pl.name, pl.region, pl.country_code, pl.country, pl.latitude, pl.longitude,
                       \(name == nil ? "NULL" : "n.kind") AS kind, COUNT(*) AS photos
                FROM places pl \(match) JOIN photos p ON p.place_id = pl.id AND p.state = 'indexed'
                GROUP BY pl.id ORDER BY photos DESC, pl.name, pl.id
                """, arguments: StatementArguments(arguments)).map { row in
                PlaceCount(id: row["id"], name: row["name"], region: row["region"], countryCode: row["country_code"],
                           country: row["country"], latitude: row["latitude"], longitude: row["longitude"],
                           photos: row["photos"], matchedAs: (row["kind"] as String?).flatMap(PlaceNameKind.init(rawValue:)))
            }
        }
    }

    /// Where the indexed photo `id` was taken, if it has a place.
    public func place(ofPhoto id: Int64) throws(PhotoIndexError) -> PhotoPlace? {
        try database(create: false).read { db in
            try Row.fetchOne(db, sql: "SELECT \(PhotoPlace.columns) FROM photos p JOIN places pl ON pl.id = p.place_id WHERE p.id = ?",
                             arguments: [id]).flatMap(PhotoPlace.init(row:))
        }
    }
}
