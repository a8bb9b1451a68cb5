import Foundation
import Testing

/// Searching by what the index knows of a file: its name and its camera,
/// as query terms (name:, camera:), options (--name, --camera) and, alone,
/// a list of the photos they let through, newest first.
@Suite("name:, camera:, --name, --camera")
struct NameCameraCommandTests {
    var library: PlacesCommandTests.Library { PlacesCommandTests.library }

    func search(_ arguments: [String]) throws -> CommandRunner.Result {
        try CommandRunner.run(["search"] + arguments + ["--db", library.database, "--model", PlacesCommandTests.model], environment: ["TZ": "UTC"])
    }

    /// The file names a search prints with --paths, in order.
    func names(_ arguments: [String]) throws -> [String] {
        let result = try search(arguments + ["--paths", "--top", "20"])
        #expect(result.status == 0, "\(arguments): \(result.standardError)")
        return result.standardOutput.split(separator: "\n").map { String($0.split(separator: "/").last!) }
    }

    @Test("filters alone list their photos newest first, unranked; with a text, they restrict its ranking")
    func filters() throws {
        // The GPS fixtures' camera is "photosearch GPS fixture"; rocket.jpg has none.
        let byDate = ["tokyo.jpg", "paris-france.jpg", "paris-texas.jpg", "são paulo.jpg", "porto.jpg", "lisbon.jpg", "fiji.jpg",
                      "atlantic.jpg", "null-island.jpg"]
        #expect(try names(["camera:fixture"]) == byDate)
        #expect(try names(["camera:'GPS FIXTURE'"]) == byDate)
        #expect(try names(["--camera", "gps", "name:paris"]) == ["paris-france.jpg", "paris-texas.jpg"])
        #expect(try names(["name:PARIS-*.jpg name:porto"]) == ["paris-france.jpg", "paris-texas.jpg", "porto.jpg"])
        #expect(try names(["name:*o.jpg"]) == ["tokyo.jpg", "são paulo.jpg", "porto.jpg"])
        // A name typed composed or decomposed finds a file named either way ("são paulo.jpg" is composed here).
        for typed in ["name:s\u{E3}o", "name:sa\u{303}o", "name:*a\u{303}o*.jpg", "--name=S\u{E3}O"] {
            #expect(try names(typed.hasPrefix("--") ? ["a photo", typed] : [typed]) == ["são paulo.jpg"], "\(Array(typed.unicodeScalars))")
        }
        // A file name alone that is no file here: the photos named so.
        #expect(try names(["lisbon.jpg"]) == ["lisbon.jpg"])
        #expect(try names(["rocket.jpg"]) == ["rocket.jpg"])
        // With a text: ranked among the photos the filters let through.
        #expect(Set(try names(["a photo", "--name", "paris", "--name", "tokyo"])) == ["paris-france.jpg", "paris-texas.jpg", "tokyo.jpg"])
        #expect(try names(["a photo camera:nikon"]) == [])
        // The table has no score for a list, and JSON says null.
        let table = try search(["name:lisbon"])
        #expect(table.standardOutput == "  1        -  2019-06-12 10:15  Lisbon, PT  \(library.photos)/lisbon.jpg\n", "\(table.standardError)")
        let json = try search(["name:lisbon", "--json"])
        #expect(json.standardOutput.hasPrefix(#"{"copies":[],"date_source":"exif","path":"\#(library.photos)/lisbon.jpg","place":{"#))
        #expect(json.standardOutput.contains(#""score":null"#))
        let ranked = try search(["a photo", "--name", "lisbon", "--json"])
        #expect(!ranked.standardOutput.contains(#""score":null"#) && ranked.standardOutput.contains(#""score":"#))
    }

    @Test("bad filters: one line and exit 64")
    func errors() throws {
        for (arguments, message) in [
            (["name:lisbon", "--min-score", "0.2"], "photosearch: error: invalid minimum score: a query of filters alone ranks nothing\n"),
            (["a photo", "--camera", ""], "photosearch: error: invalid camera: it is empty\n"),
            (["a photo", "--name", String(repeating: "a", count: 300)],
             "photosearch: error: invalid name: \"\(String(repeating: "a", count: 40))…\" is 300 bytes long, more than 255\n"),
            (["name:IMG_[12"], "photosearch: error: invalid name: \"IMG_[12\" opens a [ set that no ] closes (a [ itself is written [[])\n"),
            (["name:" + String(repeating: "*a", count: 17)], "photosearch: error: invalid name: \"\(String(repeating: "*a", count: 17).prefix(40))\" has more than 16 wildcards\n"),
            (["dog - name:x"], "photosearch: error: malformed query: \"-\" is followed by the filter name:, but filters are not terms "
                + "to add or take away: write it apart, without \"-\"\n"),
            (["./missing.jpg"], "photosearch: error: no such image: ./missing.jpg\n"),
            // A file name no file has and no indexed photo has: a mistyped example.
            (["rocket.jpg", "--camera", "fixture"], "photosearch: error: no such image: rocket.jpg\n"),
        ] {
            let result = try search(arguments)
            #expect(result.standardError == message, "\(arguments)")
            #expect(result.status == (message.contains("no such image") ? 1 : 64), "\(arguments)")
        }
    }
}
