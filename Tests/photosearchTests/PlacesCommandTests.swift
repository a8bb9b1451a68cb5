import Foundation
import Testing

/// Places from the command line: shown with results, filtered on (--place,
/// --near, in:), listed (photosearch places), counted (status).
@Suite("photosearch places, --place, --near, in:")
struct PlacesCommandTests {
    static let model = CommandRunner.fixture("models/oc-vit-gelu-p16")

    /// The GPS fixture photos and one without a position, indexed once for the suite.
    final class Library: @unchecked Sendable {   // immutable after init; removed on deinit
        let root: URL
        var photos: String { root.appendingPathComponent("photos").path }
        var database: String { root.appendingPathComponent("index.sqlite").path }

        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("photosearch-places-\(UUID().uuidString)")
            let photos = root.appendingPathComponent("photos")
            try FileManager.default.createDirectory(at: photos, withIntermediateDirectories: true)
            for name in ["lisbon.jpg", "porto.jpg", "tokyo.jpg", "paris-france.jpg", "paris-texas.jpg", "são paulo.jpg", "fiji.jpg",
                         "atlantic.jpg", "null-island.jpg"] {
                try FileManager.default.copyItem(atPath: CommandRunner.fixture("photos/places/" + name),
                                                 toPath: photos.appendingPathComponent(name).path)
            }
            try FileManager.default.copyItem(atPath: CommandRunner.fixture("photos/rocket.jpg"),
                                             toPath: photos.appendingPathComponent("rocket.jpg").path)
            let result = try CommandRunner.run(["index", photos.path, "--db", database, "--model", PlacesCommandTests.model])
            precondition(result.status == 0, result.standardError)
        }

        deinit { try? FileManager.default.removeItem(at: root) }
    }

    static let library = try! Library()

    func search(_ arguments: [String]) throws -> CommandRunner.Result {
        try CommandRunner.run(["search"] + arguments + ["--db", Self.library.database, "--model", Self.model])
    }

    /// The file names a search prints with --paths.
    func names(_ arguments: [String]) throws -> Set<String> {
        let result = try search(arguments + ["--paths", "--top", "20"])
        #expect(result.status == 0, "\(arguments): \(result.standardError)")
        return Set(result.standardOutput.split(separator: "\n").map { String($0.split(separator: "/").last!) })
    }

    @Test("--place: names, alternate names, regions, countries and codes, folded; repeatable; in: does the same")
    func placeFilters() throws {
        #expect(try names(["a photo", "--place", "Lisboa"]) == ["lisbon.jpg"])
        #expect(try names(["a photo", "--place", "portugal"]) == ["lisbon.jpg", "porto.jpg"])
        #expect(try names(["a photo", "--place", "Paris"]) == ["paris-france.jpg", "paris-texas.jpg"])
        #expect(try names(["a photo", "--place", "東京", "--place", "SAO PAULO"]) == ["tokyo.jpg", "são paulo.jpg"])
        #expect(try names(["a photo", "--place", "Île-de-France"]) == ["paris-france.jpg"])
        #expect(try names(["a photo in:Portugal"]) == ["lisbon.jpg", "porto.jpg"])
        #expect(try names(["海边 in:葡萄牙"]) == ["lisbon.jpg", "porto.jpg"])         // a country's name in Chinese (CLDR)
        #expect(try names(["a photo", "--place", "USA", "--place", "Brasil"]) == ["paris-texas.jpg", "são paulo.jpg"])
        #expect(try names([#""a photo" in:"São Paulo""#]) == ["são paulo.jpg"])
        #expect(try names(["a photo in:Japan", "--after", "2023"]) == ["tokyo.jpg"])
        #expect(try names(["a photo in:Japan", "--before", "2023"]) == [])
    }

    @Test("--near LAT,LON[,KM]: great-circle distance, across the antimeridian")
    func nearFilters() throws {
        #expect(try names(["a photo", "--near", "38.7,-9.1"]) == ["lisbon.jpg"])
        #expect(try names(["a photo", "--near", "38.7,-9.1,300"]) == ["lisbon.jpg", "porto.jpg"])
        #expect(try names(["a photo", "--near=-16.79,-179.99,10"]) == ["fiji.jpg"])
    }

    @Test("results show their place: a table column and --json's place object")
    func shown() throws {
        let table = try search(["a photo", "--place", "Texas"])
        #expect(table.status == 0)
        #expect(table.standardOutput.contains("Paris, US"))
        let json = try search(["a photo", "--json", "--top", "20"])
        struct Place: Decodable { let name: String; let region: String?; let country_code: String; let country: String; let distance_km: Double }
        struct Line: Decodable { let path: String; let place: Place? }
        let lines = try json.standardOutput.split(separator: "\n").map { try JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
        #expect(lines.count == 10)
        let byName = Dictionary(uniqueKeysWithValues: lines.map { ($0.path.split(separator: "/").last.map(String.init)!, $0.place) })
        #expect(byName["tokyo.jpg"]??.name == "Tokyo")
        #expect(byName["tokyo.jpg"]??.country == "Japan")
        #expect(byName["paris-texas.jpg"]??.region == "Texas")
        #expect(byName["são paulo.jpg"]??.country_code == "BR")
        #expect((byName["lisbon.jpg"]??.distance_km ?? 99) < 1)
        // No place: null, not missing.
        #expect(json.standardOutput.split(separator: "\n").contains { $0.contains("atlantic.jpg") && $0.contains(#""place":null"#) })
    }

    @Test("photosearch places: countries and places with counts; NAME lists what --place NAME matches; --json")
    func list() throws {
        let all = try CommandRunner.run(["places", "--db", Self.library.database])
        #expect(all.status == 0)
        let lines = all.standardOutput.split(separator: "\n").map(String.init)
        #expect(lines.first == "Portugal (PT)  2 photos")
        #expect(lines.contains("      1  Paris, Texas"))
        #expect(lines.contains("Japan (JP)  1 photo"))
        let paris = try CommandRunner.run(["places", "Paris", "--db", Self.library.database, "--json"])
        #expect(paris.status == 0)
        struct Line: Decodable { let name: String; let country_code: String; let photos: Int; let matched_as: String? }
        let found = try paris.standardOutput.split(separator: "\n").map { try JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
        #expect(Set(found.map(\.country_code)) == ["FR", "US"])
        #expect(found.allSatisfy { $0.name == "Paris" && $0.photos == 1 && $0.matched_as == "place" })
        let country = try CommandRunner.run(["places", "Portugal", "--db", Self.library.database])
        #expect(country.standardOutput.contains("(by its country)"))
    }

    @Test("status counts photos with a place")
    func status() throws {
        let status = try CommandRunner.run(["status", "--db", Self.library.database, "--json"])
        struct Status: Decodable { let with_position: Int; let with_place: Int; let indexed: Int }
        let decoded = try JSONDecoder().decode(Status.self, from: Data(status.standardOutput.utf8))
        #expect((decoded.indexed, decoded.with_position, decoded.with_place) == (10, 8, 7))
        let text = try CommandRunner.run(["status", "--db", Self.library.database])
        #expect(text.standardOutput.contains("Places:   7 photos with a known place"))
    }

    @Test("bad place filters: a line saying what is wrong, exit status 64", arguments: [
        (["a photo", "--place", "Atlantis"], #"no photo in the index was taken in a place named "Atlantis""#),
        (["a photo", "--place=-"], #"invalid place: "-" has no letters or digits"#),
        (["a photo", "--near", "91,0"], "latitude 91.0 is not between -90 and 90"),
        (["a photo", "--near", "1,2,0"], "0.0 km is not more than 0"),
        (["a photo", "--near", "nan,1"], #""nan,1" is not LAT,LON or LAT,LON,KM"#),
        (["a photo", "--near", "1;2"], #""1;2" is not LAT,LON"#),
        ([#"a photo in:"Lisbon"#], "a quote is not closed"),
    ])
    func refused(arguments: [String], message: String) throws {
        let result = try search(arguments)
        #expect(result.status == 64, "\(arguments): \(result.standardError)")
        #expect(result.standardOutput.isEmpty)
        let first = result.standardError.split(separator: "\n").first.map(String.init) ?? ""
        #expect(first.contains(message), "\(result.standardError)")
        #expect(!result.standardError.contains("Fatal error"))
    }

    @Test("places NAME that no photo was taken in says so, with --json too")
    func unknownName() throws {
        for extra in [[], ["--json"]] {
            let result = try CommandRunner.run(["places", "Atlantis", "--db", Self.library.database] + extra)
            #expect(result.status == 64 && result.standardOutput.isEmpty, "\(extra)")
            #expect(result.standardError.contains("no photo in the index was taken in a place named \"Atlantis\""))
        }
    }
}
