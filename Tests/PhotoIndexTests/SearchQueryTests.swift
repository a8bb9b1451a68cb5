import FileAccess
import Foundation
import Imaging
import Testing
@testable import PhotoIndex

@Suite("The query language")
struct SearchQueryTests {
    /// Pretends these paths exist.
    func parse(_ text: String, files: Set<String> = ["./ref.jpg", "/photos/a.png", "/photos/b"]) throws -> [SearchQuery.Part] {
        try SearchQuery.parse(text) { files.contains($0) }.parts
    }

    @Test("plain text is one text term, hyphens and all")
    func plainText() throws {
        #expect(try parse("a well-lit room at dusk") == [.init(term: .text("a well-lit room at dusk"), weight: 1)])
    }

    @Test("quoted terms joined by + and -")
    func operators() throws {
        #expect(try parse(#""dog" + "beach" - "people""#) == [
            .init(term: .text("dog"), weight: 1), .init(term: .text("beach"), weight: 1), .init(term: .text("people"), weight: -1),
        ])
        #expect(try parse("dog on grass -cat") == [.init(term: .text("dog on grass"), weight: 1), .init(term: .text("cat"), weight: -1)])
        #expect(try parse(#"'it\'s raining' + 'umbrella'"#) == [.init(term: .text("it's raining"), weight: 1), .init(term: .text("umbrella"), weight: 1)])
    }

    @Test("weights")
    func weights() throws {
        #expect(try parse("2:sunset + ./ref.jpg") == [
            .init(term: .text("sunset"), weight: 2),
            .init(term: .image(path: FilePaths.absolute("./ref.jpg")), weight: 1),
        ])
        #expect(try parse(#"0.5:"red car" - 1.5:night"#) == [.init(term: .text("red car"), weight: 0.5), .init(term: .text("night"), weight: -1.5)])
        // A time of day is text, not a weight.
        #expect(try parse("12:30 lunch") == [.init(term: .text("12:30 lunch"), weight: 1)])
    }

    @Test("in:NAME is a place filter anywhere between terms, quoted or bare, several allowed")
    func placeFilters() throws {
        func query(_ text: String) throws -> SearchQuery { try SearchQuery.parse(text) { _ in false } }
        #expect(try query("beach in:Portugal") == SearchQuery(parts: [.init(term: .text("beach"), weight: 1)], places: ["Portugal"]))
        #expect(try query(#""beach" in:Portugal"#) == SearchQuery(parts: [.init(term: .text("beach"), weight: 1)], places: ["Portugal"]))
        #expect(try query(#"in:"New York" street at night"#)
            == SearchQuery(parts: [.init(term: .text("street at night"), weight: 1)], places: ["New York"]))
        #expect(try query(#"dog in:東京 + cat in:'São Paulo' - rain"#) == SearchQuery(parts: [
            .init(term: .text("dog"), weight: 1), .init(term: .text("cat"), weight: 1), .init(term: .text("rain"), weight: -1),
        ], places: ["東京", "São Paulo"]))
        #expect(try query("IN:Lisbon tram") == SearchQuery(parts: [.init(term: .text("tram"), weight: 1)], places: ["Lisbon"]))
        // Not a filter: "in" inside a word, or "in:" with nothing after it.
        #expect(try query("within:reach").places == [])
        #expect(try query("a walk in: the park").places == [])
        // Filters alone: a list of what they let through.
        #expect(try query("in:Japan") == SearchQuery(parts: [], places: ["Japan"]))
        #expect(throws: PhotoIndexError.malformedQuery(.missingTerm(after: "in:"))) { try query(#"beach in:"""#) }
        #expect(throws: PhotoIndexError.malformedQuery(.filterAfterOperator("+", filter: "in:"))) { try query("beach + in:Lisbon") }
        #expect(throws: PhotoIndexError.malformedQuery(.unterminatedQuote)) { try query(#"beach in:"Lisbon"#) }
    }

    @Test("image terms: an image extension, or a path to an existing file")
    func images() throws {
        #expect(try parse("/photos/a.png") == [.init(term: .image(path: "/photos/a.png"), weight: 1)])
        #expect(try parse("/photos/b") == [.init(term: .image(path: "/photos/b"), weight: 1)])
        #expect(try parse(#""/photos/a.png""#) == [.init(term: .text("/photos/a.png"), weight: 1)])   // quoted: text
        #expect(throws: PhotoIndexError.noSuchImage(path: "./missing.jpg")) { try parse("./missing.jpg") }
        #expect(throws: PhotoIndexError.noSuchImage(path: "missing.jpg")) { try parse("dog + missing.jpg") }
        // A photo's name with a space in it is the photo, when it is one.
        let spaced: Set<String> = ["/photos/IMG_4411 copy.jpg", "IMG 2.png"]
        #expect(try parse("/photos/IMG_4411 copy.jpg", files: spaced) == [.init(term: .image(path: "/photos/IMG_4411 copy.jpg"), weight: 1)])
        #expect(try parse("sunset - IMG 2.png", files: spaced) == [
            .init(term: .text("sunset"), weight: 1), .init(term: .image(path: FilePaths.absolute("IMG 2.png")), weight: -1),
        ])
        #expect(try parse("a dog.jpg on a beach", files: spaced) == [.init(term: .text("a dog.jpg on a beach"), weight: 1)])
        // "~/" is $HOME, as in a shell, and a missing photo is named where it was looked for.
        let home = FilePaths.home
        #expect(try parse("~/ref.jpg", files: [home + "/ref.jpg"]) == [.init(term: .image(path: home + "/ref.jpg"), weight: 1)])
        #expect(throws: PhotoIndexError.noSuchImage(path: home + "/gone.jpg")) { try parse("~/gone.jpg") }
    }

    @Test("name: and camera: filters; a file name alone that is no file here is a name filter")
    func nameAndCameraFilters() throws {
        func query(_ text: String) throws -> SearchQuery { try SearchQuery.parse(text) { $0 == "here.jpg" } }
        #expect(try query("name:IMG_10* sunset camera:'iPhone 12'")
            == SearchQuery(parts: [.init(term: .text("sunset"), weight: 1)], names: ["IMG_10*"], cameras: ["iPhone 12"]))
        #expect(try query("NAME:a Camera:Canon name:b") == SearchQuery(parts: [], names: ["a", "b"], cameras: ["Canon"]))
        var named = SearchQuery(parts: [], names: ["[I]MG_1049.jpg"])
        named.fileName = "IMG_1049.jpg"
        #expect(try query("IMG_1049.jpg") == named)
        #expect(SearchQuery.exactName("a*b?[c].jpg") == "[a][*]b[?][[]c].jpg")
        // With another term, or a weight, it was meant as an example photo.
        #expect(throws: PhotoIndexError.noSuchImage(path: "IMG_1.jpg")) { try query("IMG_1.jpg + dog") }
        #expect(throws: PhotoIndexError.noSuchImage(path: "IMG_1.jpg")) { try query("2:IMG_1.jpg") }
        #expect(try query("here.jpg") == SearchQuery(parts: [.init(term: .image(path: FilePaths.absolute("here.jpg")), weight: 1)]))
        #expect(try query("filename:x").names == [])
        #expect(throws: PhotoIndexError.malformedQuery(.missingTerm(after: "camera:"))) { try query(#"camera:"""#) }
        #expect(throws: PhotoIndexError.malformedQuery(.filterAfterOperator("-", filter: "name:"))) { try query("dog - name:x") }
        // The filter as SQL sees a name: after the last "/", ASCII letters lower-cased.
        #expect(SearchFilter.asciiLowercased("IMG_É.JPG") == "img_É.jpg")
        #expect(SearchFilter.isGlob("IMG_10*") && SearchFilter.isGlob("a?.jpg") && !SearchFilter.isGlob("IMG_1049"))
        // A set must close; "]" first in a set is part of it, and "[[]" is a bracket.
        for open in ["[", "IMG_[12", "a[]", "a[^]", "[ab][c"] { #expect(SearchFilter.hasUnclosedSet(open), "\(open)") }
        for closed in ["IMG_[12].jpg", "[]]", "[^]]x", "[[]x", "a*b?", "[a]mg[0-9]"] { #expect(!SearchFilter.hasUnclosedSet(closed), "\(closed)") }
    }

    @Test("malformed queries", arguments: [
        ("", PhotoIndexError.emptyQuery),
        ("   ", .emptyQuery),
        (#""""#, .emptyQuery),
        ("dog +", .malformedQuery(.missingTerm(after: "+"))),
        ("dog + - cat", .malformedQuery(.missingTerm(after: "+"))),
        (#""dog" "cat""#, .malformedQuery(.missingOperator(before: #""cat""#))),
        (#""dog"#, .malformedQuery(.unterminatedQuote)),
        ("0:dog", .malformedQuery(.invalidWeight("0"))),
        ("0.0009:dog", .malformedQuery(.invalidWeight("0.0009"))),
        // Finite as a Double, infinite as the Float the vector is summed in.
        ("1000000000000000000000000000000000000000:cat", .malformedQuery(.invalidWeight("1000000000000000000000000000000000000000"))),
        ("1000.5:cat", .malformedQuery(.invalidWeight("1000.5"))),
        ("2:", .malformedQuery(.missingTerm(after: "2:"))),
    ])
    func malformed(text: String, error: PhotoIndexError) {
        #expect(throws: error) { try parse(text) }
    }

    @Test("a bare term of slashes and a non-ASCII letter is parsed, not a crash (found by fuzz-query)")
    func doubleSlash() throws {
        #expect(try parse("//\u{FFFD}") == [.init(term: .text("//\u{FFFD}"), weight: 1)])
        #expect(try SearchQuery.parse("//é") { _ in true }.parts == [.init(term: .image(path: "/é"), weight: 1)])
    }

    @Test("a date bound read as UTC: seconds since 1970, proleptic Gregorian, as Foundation counts them; other text is no bound")
    func utcSeconds() throws {
        #expect(SearchFilter.utcSeconds("1970-01-01T00:00:00") == 0)
        #expect(SearchFilter.utcSeconds("1969-12-31T23:59:59") == -1)
        #expect(SearchFilter.utcSeconds("2000-03-01T00:00:00") == 951_868_800)
        #expect(SearchFilter.utcSeconds("2023-11-05T01:30:00") == 1_699_147_800)
        #expect(SearchFilter.utcSeconds("0001-01-01T00:00:00") == -62_135_596_800)
        #expect(SearchFilter.utcSeconds("9999-12-31T23:59:59") == 253_402_300_799)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = try #require(TimeZone(identifier: "UTC"))
        var day = try #require(calendar.date(from: DateComponents(year: 1890, month: 1, day: 1, hour: 13, minute: 7, second: 9)))
        while calendar.component(.year, from: day) < 2110 {
            let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: day)
            let text = String(format: "%04d-%02d-%02dT%02d:%02d:%02d", parts.year!, parts.month!, parts.day!, parts.hour!, parts.minute!, parts.second!)
            #expect(SearchFilter.utcSeconds(text) == Int64(day.timeIntervalSince1970), "\(text)")
            day = day.addingTimeInterval(5 * 86_400 + 3_601)
        }
        for text in ["2023-11-05", "2023-11-05T01:30", "2023-11-05 01:30:00", "2023-13-01T00:00:00", "2023-11-00T00:00:00", "+023-11-05T01:30:00",
                     "2023-02-29T00:00:00", "2023-02-30T00:00:00", "2024-06-15T99:00:00", "2024-06-15T24:00:00"] {
            #expect(SearchFilter.utcSeconds(text) == nil, "\(text)")
        }
        // Past what 64-bit nanoseconds reach, every file time is rendered and compared.
        #expect(!SearchFilter.dateCondition("9999-12-31T23:59:59", atLeast: true).0.contains("modified_at >= ?"))
        #expect(SearchFilter.dateCondition("2023-11-05T01:30:00", atLeast: true).0.contains("modified_at >= ?"))
        #expect(SearchFilter.utcSeconds("2024-02-29T00:00:00") == 1_709_164_800)
        // A folder's range of paths: appended to, never cut (U+0600 joins a following "/" into one Character).
        #expect(SearchFilter.paths(under: "/x/\u{600}") == ("/x/\u{600}/", "/x/\u{600}0"))
        #expect(SearchFilter.paths(under: "/") == ("/", "0"))
        #expect(SearchFilter.paths(under: "/a/b") == ("/a/b/", "/a/b0"))
    }
}
