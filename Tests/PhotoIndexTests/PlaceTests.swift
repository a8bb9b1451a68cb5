import Foundation
import GRDB
import Places
import Testing
@testable import PhotoIndex

/// Where photos were taken: derived from their EXIF positions when they are
/// indexed, stored, shown with results, filtered on before ranking.
@Suite("Places of indexed photos")
struct PlaceTests {
    static let query: [Float] = SearchTests.textModel.encode(texts: ["a photo"])[0]

    /// The GPS fixtures (and one photo without a position), indexed.
    func indexedPlaces() throws -> Workspace {
        let workspace = try Workspace()
        for name in ["lisbon.jpg", "porto.jpg", "tokyo.jpg", "paris-france.jpg", "paris-texas.jpg", "são paulo.jpg", "fiji.jpg",
                     "atlantic.jpg", "null-island.jpg"] {
            try workspace.copy("photos/places/\(name)", to: name)
        }
        try workspace.copy("photos/rocket.jpg", to: "rocket.jpg")
        _ = try workspace.run()
        return workspace
    }

    func place(_ workspace: Workspace, _ name: String) throws -> PhotoPlace? {
        try workspace.database().read { db in
            try Row.fetchOne(db, sql: "SELECT \(PhotoPlace.columns) FROM photos p LEFT JOIN places pl ON pl.id = p.place_id WHERE p.path = ?",
                             arguments: [workspace.photos + "/" + name]).flatMap(PhotoPlace.init(row:))
        }
    }

    @Test("each photo's place is the data's nearest to its EXIF position, with its distance; none at sea or without a position")
    func derived() throws {
        let workspace = try indexedPlaces()
        let directory = try PlaceDirectory.builtIn()
        let expected: [(String, String?, String?)] = [
            ("lisbon.jpg", "Lisbon", "PT"), ("porto.jpg", "Porto", "PT"), ("tokyo.jpg", "Tokyo", "JP"),
            ("paris-france.jpg", "Paris", "FR"), ("paris-texas.jpg", "Paris", "US"), ("são paulo.jpg", "São Paulo", "BR"),
            ("fiji.jpg", nil, "FJ"), ("atlantic.jpg", nil, nil), ("null-island.jpg", nil, nil), ("rocket.jpg", nil, nil),
        ]
        for (file, name, country) in expected {
            let record = try #require(try workspace.photo(workspace.photos + "/" + file))
            let found = try place(workspace, file)
            #expect(found?.countryCode == country, "\(file)")
            if let name { #expect(found?.name == name, "\(file)") }
            if let latitude = record.latitude, let longitude = record.longitude {
                let nearest = directory.nearest(latitude: latitude, longitude: longitude)
                #expect(found?.name == nearest?.place.name)
                #expect(found.map(\.distanceKilometres) == nearest?.distanceKilometres)
                #expect(record.placeStamp == (try PlaceAssignment.stamp()), "\(file): derived, even at sea")
            } else {
                #expect(record.placeStamp == nil)
            }
        }
        #expect(try place(workspace, "paris-france.jpg")?.region == "Île-de-France")
        #expect(try place(workspace, "paris-texas.jpg")?.region == "Texas")
        let status = try IndexStatus.read(try workspace.database())
        #expect((status.withPosition, status.withPlace) == (8, 7))
    }

    @Test("place filters: any name of a place, its region or its country; case and accents aside; several are alternatives")
    func filters() throws {
        let workspace = try indexedPlaces()
        let searcher = try PhotoSearcher(database: try workspace.database())
        func names(_ places: [String] = [], near: SearchFilter.Circle? = nil) throws -> Set<String> {
            Set(try searcher.search(Self.query, top: 20, filter: SearchFilter(places: places, near: near)).map {
                String($0.path.split(separator: "/").last!)
            })
        }
        #expect(try names(["Lisbon"]) == ["lisbon.jpg"])
        #expect(try names(["lisboa"]) == ["lisbon.jpg"])                       // an alternate name
        #expect(try names(["東京"]) == ["tokyo.jpg"])
        #expect(try names(["Portugal"]) == ["lisbon.jpg", "porto.jpg"])         // a country
        #expect(try names(["pt"]) == ["lisbon.jpg", "porto.jpg"])               // its ISO code
        #expect(try names(["PARIS"]) == ["paris-france.jpg", "paris-texas.jpg"])
        #expect(try names(["ile-de-france"]) == ["paris-france.jpg"])           // a region, accents folded
        #expect(try names(["Texas"]) == ["paris-texas.jpg"])
        #expect(try names(["sao paulo"]) == ["são paulo.jpg"])
        #expect(try names(["SÃO PAULO", "Japan"]) == ["são paulo.jpg", "tokyo.jpg"])
        #expect(throws: PhotoIndexError.unknownPlace("Atlantis")) { try names(["Atlantis"]) }
        #expect(throws: PhotoIndexError.unknownPlace("Madrid")) { try names(["Lisbon", "Madrid"]) }
        #expect(throws: PhotoIndexError.self) { try names([" - "]) }

        // A circle: great-circle distance, across the antimeridian too.
        #expect(try names(near: try SearchFilter.Circle(latitude: 38.7, longitude: -9.1, radiusKilometres: 10)) == ["lisbon.jpg"])
        #expect(try names(near: try SearchFilter.Circle(latitude: 38.7, longitude: -9.1, radiusKilometres: 300)) == ["lisbon.jpg", "porto.jpg"])
        #expect(try names(near: try SearchFilter.Circle(latitude: -16.79, longitude: -179.99, radiusKilometres: 10)) == ["fiji.jpg"])
        #expect(try names(near: try SearchFilter.Circle(latitude: 0.5, longitude: -30, radiusKilometres: 1)) == ["atlantic.jpg"])
        #expect(try names(near: try SearchFilter.Circle(latitude: 0, longitude: 0, radiusKilometres: 1)) == [])
        // With a date: both apply.
        #expect(try Set(searcher.search(Self.query, top: 20, filter: SearchFilter(after: "2019-06-14T00:00:00", places: ["Portugal"]))
            .map(\.path)) == [workspace.photos + "/porto.jpg"])
        // Results carry their place.
        let hit = try #require(try searcher.search(Self.query, top: 1, filter: SearchFilter(places: ["Tokyo"])).first)
        #expect(hit.place?.name == "Tokyo" && hit.place?.country == "Japan")
    }

    @Test("positions and radii out of range are refused with what is wrong", arguments: [
        "91,0", "0,181", "0,0,0", "0,0,-5", "0,0,30000", "nan,0", "inf,0", "0x10,0", "1", "1,2,3,4", "", ",", "1e400,0", "a,b",
    ])
    func badCircles(text: String) {
        #expect(throws: PhotoIndexError.self) { try SearchFilter.Circle(parsing: text) }
    }

    @Test("a circle parses as LAT,LON[,KM], spaces allowed")
    func circles() throws {
        let circle = try SearchFilter.Circle(parsing: " -16.79 , -179.99 ")
        #expect((circle.latitude, circle.longitude, circle.radiusKilometres) == (-16.79, -179.99, 10))
        #expect(try SearchFilter.Circle(parsing: "1.5,2,0.25").radiusKilometres == 0.25)
    }

    @Test("a changed photo loses its old place; places no photo is in leave the index; a moved one keeps its place")
    func changes() throws {
        let workspace = try indexedPlaces()
        // lisbon.jpg becomes a photo without a position; porto.jpg moves.
        try workspace.copy("photos/chelsea.png", to: "lisbon.jpg")
        touch(workspace.photos + "/lisbon.jpg", secondsAgo: 30)
        try FileManager.default.createDirectory(atPath: workspace.photos + "/moved", withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: workspace.photos + "/porto.jpg", toPath: workspace.photos + "/moved/porto.jpg")
        _ = try workspace.run()
        #expect(try place(workspace, "lisbon.jpg") == nil)
        #expect(try workspace.photo(workspace.photos + "/lisbon.jpg")?.placeStamp == nil)
        #expect(try place(workspace, "moved/porto.jpg")?.name == "Porto")
        #expect(try workspace.count("SELECT COUNT(*) FROM places WHERE name = 'Lisbon'") == 0)
        #expect(try workspace.count("SELECT COUNT(*) FROM place_names WHERE key = 'lisboa'") == 0)
    }

    @Test("places stored from other data (or other name folding) are derived again, without re-embedding")
    func staleStamp() throws {
        let workspace = try indexedPlaces()
        let database = try workspace.database()
        let before = try workspace.count("SELECT MAX(id) FROM embeddings")
        // As an older photosearch left them: another stamp, other ids.
        try database.write { db in
            try db.execute(sql: "UPDATE photos SET place_stamp = 1 WHERE place_stamp IS NOT NULL")
            try db.execute(sql: "UPDATE places SET stamp = 1")
        }
        let stale = try workspace.count("SELECT COUNT(*) FROM photos WHERE place_stamp = 1")
        #expect(stale == 8)
        #expect(try PlaceAssignment.update(database) == 8)
        #expect(try workspace.count("SELECT COUNT(*) FROM photos WHERE place_stamp = \(try PlaceAssignment.stamp())") == 8)
        #expect(try workspace.count("SELECT COUNT(*) FROM places WHERE stamp != \(try PlaceAssignment.stamp())") == 0)
        #expect(try place(workspace, "tokyo.jpg")?.name == "Tokyo")
        #expect(try PlaceAssignment.update(database) == 0)        // nothing left to do
        #expect(try workspace.count("SELECT MAX(id) FROM embeddings") == before)
    }

    @Test("an index made before places gets them on its next run, without re-embedding")
    func fromVersion5() throws {
        let workspace = try Workspace()
        try workspace.copy("photos/places/lisbon.jpg", to: "lisbon.jpg")
        // Index, then take the index back to what version 5 was: no place
        // tables or columns (SQLite ≥ 3.35 drops columns).
        _ = try workspace.run()
        let embeddings = try workspace.count("SELECT MAX(id) FROM embeddings")
        try workspace.database().write { db in
            try db.execute(sql: """
                DROP INDEX photos_by_place;
                DROP INDEX photos_by_position;
                ALTER TABLE photos DROP COLUMN place_id;
                ALTER TABLE photos DROP COLUMN place_distance;
                ALTER TABLE photos DROP COLUMN place_stamp;
                DROP TABLE place_names;
                DROP TABLE places;
                DELETE FROM grdb_migrations WHERE identifier = 'v6: places';
                """)
        }
        let summary = try workspace.run()
        #expect(summary.unchanged == 1 && summary.added == 0 && summary.updated == 0)
        #expect(try workspace.count("SELECT MAX(id) FROM embeddings") == embeddings)
        #expect(try place(workspace, "lisbon.jpg")?.name == "Lisbon")
    }
}
