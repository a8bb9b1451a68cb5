import Foundation
import Testing
import TestSupport

@Suite("photosearch search, similar, duplicates")
struct SearchCommandTests {
    static let model = CommandRunner.fixture("models/oc-vit-gelu-p16")

    /// A folder of fixture photos, some with awkward names, indexed.
    final class IndexedFolder {
        let root: URL
        var photos: String { root.appendingPathComponent("photos").path }
        var database: String { root.appendingPathComponent("index.sqlite").path }
        let names = ["cat.png", "my rocket photo.jpg", "coffee\nwith newline.jpg", "astronaut.jpg", "camera.png", "cat copy.webp"]

        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("photosearch-search-\(UUID().uuidString)")
            let photos = root.appendingPathComponent("photos")
            try FileManager.default.createDirectory(at: photos, withIntermediateDirectories: true)
            let sources = ["chelsea.png", "rocket.jpg", "coffee-portrait.jpg", "astronaut-progressive.jpg", "camera.png", "chelsea.webp"]
            for (name, source) in zip(names, sources) {
                try FileManager.default.copyItem(atPath: CommandRunner.fixture("photos/" + source), toPath: photos.appendingPathComponent(name).path)
            }
            let result = try CommandRunner.run(["index", photos.path, "--db", database, "--model", SearchCommandTests.model])
            precondition(result.status == 0, result.standardError)
        }

        deinit { try? FileManager.default.removeItem(at: root) }
    }

    func search(_ folder: IndexedFolder, _ arguments: [String]) throws -> CommandRunner.Result {
        try CommandRunner.run(["search"] + arguments + ["--db", folder.database, "--model", Self.model])
    }

    @Test("--paths --null round-trips file names with spaces and newlines")
    func nulSeparatedPaths() throws {
        let folder = try IndexedFolder()
        let result = try search(folder, ["anything", "--paths", "--null", "--top", "10"])
        #expect(result.status == 0)
        let paths = result.standardOutput.split(separator: "\0", omittingEmptySubsequences: false).dropLast().map(String.init)
        #expect(result.standardOutput.hasSuffix("\0"))
        #expect(Set(paths) == Set(folder.names.map { folder.photos + "/" + $0 }))
    }

    @Test("--paths prints one path per line; --json one object per result, in rank order")
    func formats() throws {
        let folder = try IndexedFolder()
        // (Names with newlines need --null; the two best matches here have none.)
        let paths = try search(folder, ["a cat", "--paths", "--top", "2"])
        #expect(paths.standardOutput.split(separator: "\n").count == 2)
        let json = try search(folder, ["a cat", "--json", "--top", "6"])
        struct Line: Decodable { let path: String; let score: Float; let taken_at: String?; let date_source: String? }
        let lines = try json.standardOutput.split(separator: "\n").map { try JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
        #expect(lines.count == 6)
        // The date the table shows (a camera's, else the file's), and where it comes from.
        let rows = try search(folder, ["a cat", "--top", "6"]).standardOutput.split(separator: "\n")
        for (line, row) in zip(lines.prefix(2), rows.prefix(2)) {   // (names with newlines break rows further down)
            let date = try #require(line.taken_at)
            #expect(row.contains(String(date.prefix(16)).replacingOccurrences(of: "T", with: " ")), "\(row) vs \(date)")
            #expect(line.date_source == "exif" || line.date_source == "file")
        }
        #expect(lines.map(\.score) == lines.map(\.score).sorted(by: >))
        #expect(Array(lines.map(\.path).prefix(2)) == paths.standardOutput.split(separator: "\n").map(String.init))
        let table = try search(folder, ["a cat", "--top", "2"])
        let first = try #require(table.standardOutput.split(separator: "\n").first)
        #expect(first.hasPrefix("  1   0."))
        #expect(first.hasSuffix(lines[0].path))
        let threshold = try search(folder, ["a cat", "--json", "--min-score", String(lines[2].score)])
        #expect(threshold.standardOutput.split(separator: "\n").count == 3)
    }

    @Test("weaker matches: marked in JSON, below a rule in the table, one by one with --sort date; none for search by example")
    func weakerMatches() throws {
        let folder = try IndexedFolder()
        struct Line: Decodable { let path: String; let score: Float; let weaker: Bool }
        let json = try search(folder, ["a cat", "--json", "--top", "6"])
        let lines = try json.standardOutput.split(separator: "\n").map { try JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
        // The gallery's rule: more than ln(100)/100 below the best.
        #expect(lines.map(\.weaker) == lines.map { $0.score < lines[0].score - Float(log(100.0) / 100) })
        // The fixture gives both kinds (else the rule below would test nothing).
        let strong = lines.filter { !$0.weaker }.count
        #expect(strong >= 1 && strong < lines.count, "\(lines)")
        // (The two best have no newline in their names: rows are lines up to the rule.)
        let table = try search(folder, ["a cat", "--top", "6"]).standardOutput.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(table[strong] == "     -- weaker matches --")
        #expect(table.filter { $0.contains("weaker") }.count == 1)
        #expect(table[strong + 1].hasPrefix(String(format: "%3d  ", strong + 1)))
        let dated = try search(folder, ["a cat", "--top", "6", "--sort", "date"]).standardOutput
        #expect(!dated.contains("-- weaker matches --"))
        #expect(dated.components(separatedBy: "  (weaker)").count - 1 == lines.count - strong)
        let example = try search(folder, [folder.photos + "/cat.png", "--json", "--top", "6"])
        #expect(try example.standardOutput.split(separator: "\n").map { try JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
            .allSatisfy { !$0.weaker })
    }

    @Test("search by example, weights and exclusion")
    func queryExpressions() throws {
        let folder = try IndexedFolder()
        let example = folder.photos + "/cat.png"
        let byExample = try search(folder, [example, "--paths", "--top", "1"])
        #expect(byExample.status == 0)
        #expect(byExample.standardOutput == example + "\n")   // its own vector is the closest
        let combined = try search(folder, ["2:\(example) + \"a rocket\" - \"coffee\"", "--json"])
        #expect(combined.status == 0)
        // A query that starts with "-" is the query, not options (the "h" in
        // "coffee" printed the help), wherever it stands: as after "--".
        let query = "-\"coffee\" + 2:\(example)"
        let separated = try CommandRunner.run(["search", "--paths", "--db", folder.database, "--model", Self.model, "--", query])
        #expect(separated.status == 0 && separated.standardOutput.contains(example + "\n"), "\(separated.standardError)")
        let first = try search(folder, [query, "--paths"])
        let later = try CommandRunner.run(["search", "--paths", query, "--top", "10", "--db", folder.database, "--model", Self.model])
        #expect(first.standardOutput == separated.standardOutput && later.standardOutput == separated.standardOutput,
                "\(first.standardError) \(later.standardError)")
        // Unquoted, "h" and all; alone; and a mistyped short option, named.
        for query in ["-coffee + 2:\(example)", "-hat"] {
            let dashed = try search(folder, [query, "--paths", "--null", "--top", "3"])
            let after = try CommandRunner.run(["search", "--paths", "--null", "--top", "3", "--db", folder.database, "--model", Self.model,
                                               "--", query])
            #expect(dashed.status == 0 && dashed.standardOutput.filter { $0 == "\0" }.count == 3
                    && dashed.standardOutput == after.standardOutput, "\(query): \(dashed.standardOutput) \(dashed.standardError)")
        }
        // After options that carry their value or take the next argument, a negative number among them.
        let reference = try CommandRunner.run(["search", "--paths", "--null", "--top", "3", "--db", folder.database, "--model", Self.model,
                                               "--", "-hat"])
        for arguments in [["--top=3", "-hat"], ["--min-score", "-1", "--top", "3", "-hat"], ["--db=\(folder.database)", "--top", "3", "-hat"]] {
            let dashed = try CommandRunner.run(["search", "--paths", "--null"] + arguments + ["--db", folder.database, "--model", Self.model])
            #expect(dashed.status == 0 && dashed.standardOutput == reference.standardOutput, "\(arguments): \(dashed.standardError)")
        }
        let mistyped = try search(folder, ["-j", "a cat"])
        #expect(mistyped.status == 64 && mistyped.standardError.contains("Unknown option '-j'"), "\(mistyped.standardError)")
        // "~/" is $HOME, and a missing example is named where it was looked for.
        let home = try TemporaryDirectory()
        try FileManager.default.copyItem(atPath: example, toPath: home.file("ref.png"))
        let tilde = try CommandRunner.run(["search", "~/ref.png", "--paths", "--top", "1", "--db", folder.database, "--model", Self.model],
                                          environment: ["HOME": home.path])
        #expect(tilde.status == 0 && tilde.standardOutput == example + "\n", "\(tilde.standardError)")
        let missing = try CommandRunner.run(["search", "~/gone.jpg", "--db", folder.database, "--model", Self.model],
                                            environment: ["HOME": home.path])
        #expect(missing.status != 0 && missing.standardError.contains("no such image: \(home.path)/gone.jpg"), "\(missing.standardError)")
        // A photo's name with spaces is the photo.
        try FileManager.default.copyItem(atPath: example, toPath: home.file("IMG_4411 copy.png"))
        let spaced = try search(folder, [home.file("IMG_4411 copy.png"), "--paths", "--top", "1"])
        #expect(spaced.status == 0 && spaced.standardOutput == example + "\n", "\(spaced.standardError)")
        // A light weight is a weight; nothing cancels out.
        let light = try search(folder, ["0.001:\(example)", "--paths", "--top", "1"])
        #expect(light.status == 0 && light.standardOutput == example + "\n", "\(light.standardError)")
        let cancelled = try search(folder, ["\(example) - \(example)"])
        #expect(cancelled.status == 64 && cancelled.standardError.contains("cancel each other out"), "\(cancelled.standardError)")
        // A negative number is an option's value, not an option.
        let negative = try search(folder, ["a cat", "--min-score", "-0.99", "--near", "-33.86,151.21,20000", "--paths"])
        #expect(negative.status == 0, "\(negative.standardError)")
        let similar = try CommandRunner.run(["similar", example, "--db", folder.database, "--paths", "--top", "1"])
        #expect(similar.status == 0)
        #expect(similar.standardOutput == folder.photos + "/cat copy.webp\n")   // itself left out
    }

    @Test("a text search loads no library it does not use: not libcurl, libcrypto, libheif or libde265; a HEIF example does load libheif")
    func librariesLoaded() throws {
        let folder = try IndexedFolder()
        let unused = ["libcurl", "libcrypto", "libssl", "libheif", "libde265"]
        // The dynamic loader names every object it loads, at start or by dlopen.
        let text = try CommandRunner.run(["search", "a cat", "--db", folder.database, "--model", Self.model, "--paths"],
                                         environment: ["LD_DEBUG": "files"])
        #expect(text.status == 0)
        #expect(text.standardError.contains("file=libsqlite3"))   // the probe sees what is loaded
        for library in unused { #expect(!text.standardError.contains("file=\(library)"), "\(library) was loaded") }
        let example = try CommandRunner.run(["search", CommandRunner.fixture("photos/coffee.heic"), "--db", folder.database,
                                             "--model", Self.model, "--paths"], environment: ["LD_DEBUG": "files"])
        #expect(example.status == 0)
        #expect(example.standardError.contains("file=libheif"))
    }

    @Test("duplicates lists the near-identical pair")
    func duplicates() throws {
        let folder = try IndexedFolder()
        let result = try CommandRunner.run(["duplicates", "--db", folder.database, "--json", "--threshold", "0.99"])
        #expect(result.status == 0)
        #expect(result.standardOutput.contains("\"paths\":[\"\(folder.photos)/cat copy.webp\",\"\(folder.photos)/cat.png\"]"))
    }

    @Test("duplicates: sizes, dates and byte-identical copies in the table and JSON; --paths, --null, --in")
    func duplicatesOutput() throws {
        let root = try TemporaryDirectory()
        let photos = root.file("photos")
        for (name, source) in [("a/cat.png", "chelsea.png"), ("a/cat again.png", "chelsea.png"), ("b/cat.webp", "chelsea.webp"),
                               ("b/rocket.jpg", "rocket.jpg")] {
            try FileManager.default.createDirectory(atPath: photos + "/" + String(name.prefix(1)), withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: CommandRunner.fixture("photos/" + source), toPath: photos + "/" + name)
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_704_803_880)], ofItemAtPath: photos + "/" + name)
        }
        let database = root.file("index.sqlite")
        #expect(try CommandRunner.run(["index", photos, "--db", database, "--model", Self.model]).status == 0)
        // status: the run's start in local time with its offset; JSON in UTC.
        let status = try CommandRunner.run(["status", "--db", database], environment: ["TZ": "Asia/Kolkata"]).standardOutput
        let statusJSON = try CommandRunner.run(["status", "--db", database, "--json"], environment: ["TZ": "Asia/Kolkata"]).standardOutput
        let utc = try #require(statusJSON.firstMatch(of: /"started_at":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"/)?.1)
        let local = try #require(status.firstMatch(of: /started (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) \+05:30,/)?.1, "\(status)")
        let parsed = try #require(ISO8601DateFormatter().date(from: String(utc)))
        let shifted = ISO8601DateFormatter.string(from: parsed.addingTimeInterval(5.5 * 3600), timeZone: TimeZone(identifier: "UTC")!,
                                                  formatOptions: [.withFullDate, .withDashSeparatorInDate, .withSpaceBetweenDateAndTime, .withFullTime])
        #expect(shifted.hasPrefix(String(local)), "\(shifted) against \(local)")
        func duplicates(_ arguments: [String]) throws -> CommandRunner.Result {
            try CommandRunner.run(["duplicates", "--db", database, "--threshold", "0.99"] + arguments, environment: ["TZ": "UTC"])
        }
        let json = try duplicates(["--json"])
        #expect(json.status == 0)
        struct Group: Decodable { let similarity: Float }
        let similarity = try JSONDecoder().decode(Group.self, from: Data(json.standardOutput.utf8)).similarity
        #expect(similarity >= 0.99 && similarity < 1)
        let (first, second, webp) = (photos + "/a/cat again.png", photos + "/a/cat.png", photos + "/b/cat.webp")
        func photo(_ path: String, size: Int, identicalTo: String?) -> String {
            #"{"date_source":"file","height":300,"identical_to":\#(identicalTo.map { "\"\($0)\"" } ?? "null"),"path":"\#(path)","size":\#(size),"taken_at":"2024-01-09T12:38:00","width":451}"#
        }
        #expect(json.standardOutput == #"{"group":1,"paths":["\#(first)","\#(second)","\#(webp)"],"photos":["#
                + [photo(first, size: 240_512, identicalTo: nil), photo(second, size: 240_512, identicalTo: first),
                   photo(webp, size: 29_230, identicalTo: nil)].joined(separator: ",") + #"],"similarity":\#(similarity)}"# + "\n")
        let table = try duplicates([])
        #expect(table.standardOutput == String(format: "group 1: 3 photos, every two ≥ %.4f alike\n", similarity) + """
              451×300  240.5 KB  2024-01-09 12:38 (file)  \(first)
              451×300  240.5 KB  2024-01-09 12:38 (file)  \(second)  (same bytes as \(first))
              451×300   29.2 KB  2024-01-09 12:38 (file)  \(webp)

            """)
        #expect(try duplicates(["--paths"]).standardOutput == "\(first)\n\(second)\n\(webp)\n")
        #expect(try duplicates(["--paths", "--null"]).standardOutput == "\(first)\0\(second)\0\(webp)\0")
        #expect(try duplicates(["--paths", "--in", photos + "/a"]).standardOutput == "\(first)\n\(second)\n")
        let none = try duplicates(["--in", photos + "/b"])
        #expect(none.status == 0 && none.standardOutput.isEmpty)
        #expect(none.standardError == "photosearch: no duplicates at similarity ≥ 0.99\n")
        let nowhere = try duplicates(["--in", root.file("elsewhere")])
        #expect(nowhere.status == 64)
        #expect(nowhere.standardError == "photosearch: error: no indexed photo is under \(root.file("elsewhere")) (photosearch status shows what the index holds)\n")
        // A search shows the two files with the same bytes once, as "2 copies".
        let example = root.file("example.png")
        try FileManager.default.copyItem(atPath: CommandRunner.fixture("photos/chelsea.png"), toPath: example)
        let search = ["search", example, "--db", database, "--model", Self.model]
        let found = try CommandRunner.run(search, environment: ["TZ": "UTC"])
        let lines = found.standardOutput.split(separator: "\n")
        #expect(lines.count == 3, "four photos, two of them the same bytes: \(found.standardOutput)")
        // The same vector, but scored against its float16 copy: within
        // float16's rounding of 1 (this 32-dimensional model's vector, as
        // each kernel level computes it, shows as 0.9999 or 1.0000).
        #expect((lines[0].hasPrefix("  1   0.9999  ") || lines[0].hasPrefix("  1   1.0000  "))
                    && lines[0].contains("  2024-01-09 12:38  \(photos)/a/cat") && lines[0].hasSuffix(".png  (2 copies)"),
                "\(lines[0])")
        #expect(lines[1].hasSuffix("  \(webp)") && !lines[1].contains("copies") && lines[2].hasSuffix("/b/rocket.jpg"))
        let shown = lines[0].contains(first) ? first : second, other = shown == first ? second : first
        let asJSON = try CommandRunner.run(search + ["--json"]).standardOutput.split(separator: "\n")
        #expect(asJSON.count == 3 && asJSON[0].hasPrefix(#"{"copies":["\#(other)"],"date_source":"file","#) && asJSON[0].contains(#""path":"\#(shown)""#))
        #expect(asJSON[1].hasPrefix(#"{"copies":[],"#))
        let score = try #require(asJSON.first?.firstMatch(of: /"score":([0-9.eE+-]+)/).flatMap { Double($0.1) })
        #expect(abs(score - 1) < 1e-4 && score != 1, "the float16 copy's score: \(score)")
        #expect(try CommandRunner.run(search + ["--paths"]).standardOutput == "\(shown)\n\(webp)\n\(photos)/b/rocket.jpg\n")
        for (arguments, message) in [(["--json", "--paths"], "--json and --paths cannot be used together."), (["--null"], "--null goes with --paths.")] {
            let refused = try duplicates(arguments)
            #expect(refused.status == 64 && refused.standardError.hasPrefix("photosearch: error: \(message)\n"), "\(refused.standardError)")
        }
    }

    @Test("errors: one line each and a non-zero exit")
    func errors() throws {
        let folder = try IndexedFolder()
        let cases: [([String], Int32, String)] = [
            (["search", "", "--db", folder.database, "--model", Self.model], 64, "photosearch: error: the query is empty\n"),
            (["search", "\"dog\" +", "--db", folder.database, "--model", Self.model], 64, "photosearch: error: malformed query: nothing follows \"+\"\n"),
            (["search", "cat", "--db", folder.root.path + "/none.sqlite", "--model", Self.model], 1,
             "photosearch: error: no index at \(folder.root.path)/none.sqlite; create one with: photosearch index PATH...\n"),
            (["search", "nothere.jpg", "--db", folder.database, "--model", Self.model], 1, "photosearch: error: no such image: nothere.jpg\n"),
            // A folder nothing was indexed under says so, rather than "no matching photos".
            (["search", "cat", "--in", "/nonexistent", "--db", folder.database, "--model", Self.model], 64,
             "photosearch: error: no indexed photo is under /nonexistent (photosearch status shows what the index holds)\n"),
            (["similar", folder.photos + "/cat.png", "--in", folder.photos + "/ca", "--db", folder.database], 64,
             "photosearch: error: no indexed photo is under \(folder.photos)/ca (photosearch status shows what the index holds)\n"),
        ]
        for (arguments, status, message) in cases {
            let result = try CommandRunner.run(arguments)
            #expect(result.status == status, "\(arguments)")
            #expect(result.standardError == message)
            #expect(result.standardOutput.isEmpty)
        }
        // An unreadable example image (not in the index).
        let fake = folder.root.appendingPathComponent("fake.jpg").path
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: fake))
        let unreadable = try CommandRunner.run(["search", fake, "--db", folder.database, "--model", Self.model])
        #expect(unreadable.status == 1)
        #expect(unreadable.standardError == "photosearch: error: \(fake) is not a JPEG, PNG, WebP or HEIF image\n")
        // Another model.
        let other = try CommandRunner.run(["search", "cat", "--db", folder.database, "--model", CommandRunner.fixture("models/oc-vit-quickgelu-p8")])
        #expect(other.status == 1)
        #expect(other.standardError == "photosearch: error: this index holds 32-dimensional embeddings from model oc-vit-gelu-p16, but the model given makes 24-dimensional ones; use --model with oc-vit-gelu-p16, or re-index with this one: photosearch index --replace-model --model DIR PATH...\n", "\(other.standardError)")
        // An empty index.
        let empty = folder.root.appendingPathComponent("empty").path
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        _ = try CommandRunner.run(["index", empty, "--db", empty + "/i.sqlite", "--model", Self.model])
        let nothing = try CommandRunner.run(["search", "cat", "--db", empty + "/i.sqlite", "--model", Self.model])
        #expect(nothing.status == 1)
        #expect(nothing.standardError.hasPrefix("photosearch: error: the index \(empty)/i.sqlite holds no photos yet"))
    }
}
