import Foundation
import Testing
import TestSupport

@Suite("File names that are not UTF-8")
struct FileNameCommandTests {
    static let model = CommandRunner.fixture("models/oc-vit-gelu-p16")

    /// Runs a shell script with `$0` set to the photosearch executable: the
    /// names are made and passed by the shell, from printf escapes, as bytes.
    func shell(_ script: String, in folder: String) throws -> CommandRunner.Result {
        try CommandRunner.run(executable: URL(fileURLWithPath: "/bin/sh"), ["-c", script, CommandRunner.executable.path],
                              currentDirectory: folder)
    }

    @Test("are indexed, printed byte for byte with --paths --null, shown escaped, and usable as arguments")
    func latin1Names() throws {
        let folder = try TemporaryDirectory()
        let setup = try shell("""
            mkdir -p "photos/$(printf 'dir\\377')" &&
            cp "\(FixtureFiles.path("photos/chelsea.png"))" "photos/$(printf 'lat\\351.png')" &&
            cp "\(FixtureFiles.path("photos/rocket.jpg"))" "photos/$(printf 'dir\\377')/rocket.jpg" &&
            cp "\(FixtureFiles.path("photos/camera.png"))" photos/plain.png
            """, in: folder.path)
        try #require(setup.status == 0, "\(setup.standardError)")
        let database = folder.path + "/index.sqlite", photos = folder.path + "/photos"

        let index = try CommandRunner.run(["index", photos, "--db", database, "--model", Self.model, "--json"])
        #expect(index.status == 0, "\(index.standardError)")
        struct Summary: Decodable { let scanned: Int; let added: Int; let failed: Int }
        let summary = try JSONDecoder().decode(Summary.self, from: Data(try #require(index.standardOutput.split(separator: "\n").last).utf8))
        #expect(summary.scanned == 3 && summary.added == 3 && summary.failed == 0)

        // The exact bytes, NUL-separated.
        let paths = try CommandRunner.run(["search", "anything", "--paths", "--null", "--db", database, "--model", Self.model])
        let names = Set(rawPaths(paths))
        let prefix = Array(photos.utf8) + [0x2F]
        #expect(names == [prefix + Array("lat".utf8) + [0xE9] + Array(".png".utf8),
                          prefix + Array("dir".utf8) + [0xFF] + Array("/rocket.jpg".utf8),
                          prefix + Array("plain.png".utf8)])

        // Tables and JSON show escapes.
        let table = try CommandRunner.run(["search", "anything", "--db", database, "--model", Self.model])
        #expect(table.standardOutput.contains(photos + "/lat\\xe9.png"))
        #expect(table.standardOutput.contains(photos + "/dir\\xff/rocket.jpg"))
        let json = try CommandRunner.run(["search", "anything", "--json", "--db", database, "--model", Self.model])
        struct Line: Decodable { let path: String; let path_bytes: String? }
        let lines = try json.standardOutput.split(separator: "\n").map { try JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
        #expect(lines.map(\.path).contains(photos + "/lat\\xe9.png"))
        // With the exact bytes of each name that is not UTF-8 (and of no other).
        #expect(Set(lines.compactMap { $0.path_bytes.flatMap { Data(base64Encoded: $0) }.map(Array.init) }) == names.subtracting([prefix + Array("plain.png".utf8)]))
        #expect(lines.first { $0.path.hasSuffix("plain.png") }?.path_bytes == nil)

        // A name given as an argument, in its own bytes.
        let similar = try shell("exec \"$0\" similar \"photos/$(printf 'lat\\351.png')\" --db index.sqlite --top 2 --paths", in: folder.path)
        #expect(similar.status == 0, "\(similar.standardError)")
        #expect(similar.standardOutput.split(separator: "\n").count == 2)
        #expect(!similar.standardOutput.contains("lat"))   // the example itself is left out
    }

    @Test("names are read up to their end and no further: every directory entry placed where the next byte cannot be read")
    func entriesAtPageEnd() throws {
        let folder = try TemporaryDirectory()
        let long = String(repeating: "n", count: 251) + ".png"   // NAME_MAX, 255 bytes
        let setup = try shell("""
            mkdir -p "photos/$(printf 'dir\\377')" &&
            cp "\(FixtureFiles.path("photos/chelsea.png"))" "photos/$(printf 'lat\\351.png')" &&
            cp "\(FixtureFiles.path("photos/rocket.jpg"))" "photos/$(printf 'dir\\377')/r.jpg" &&
            cp "\(FixtureFiles.path("photos/camera.png"))" photos/\(long)
            """, in: folder.path)
        try #require(setup.status == 0, "\(setup.standardError)")
        let database = folder.path + "/index.sqlite", photos = folder.path + "/photos"
        // Before the fix the scanner copied each entry's whole 256-byte
        // d_name and crashed here (SIGSEGV) at the first entry.
        let index = try CommandRunner.run(["index", photos, "--db", database, "--model", Self.model],
                                          environment: ["LD_PRELOAD": FaultInjection.library, "PHOTOSEARCH_ENTRIES_AT_PAGE_END": "1"])
        #expect(index.status == 0, "\(index.status): \(index.standardError)")
        let paths = try CommandRunner.run(["search", "anything", "--paths", "--null", "--db", database, "--model", Self.model])
        let prefix = Array(photos.utf8) + [0x2F]
        #expect(Set(rawPaths(paths)) == [prefix + Array("lat".utf8) + [0xE9] + Array(".png".utf8),
                                         prefix + Array("dir".utf8) + [0xFF] + Array("/r.jpg".utf8),
                                         prefix + Array(long.utf8)])
    }

    @Test("control characters in a name are shown escaped in tables, exact in JSON: a name cannot drive the terminal or forge a line")
    func controlCharacters() throws {
        let folder = try TemporaryDirectory()
        let photos = folder.path + "/photos", name = "x\u{1B}]0;PWNED\u{07}\u{1B}[2J\n  1   0.9999  fake.png"
        try FileManager.default.createDirectory(atPath: photos, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: FixtureFiles.path("photos/chelsea.png"), toPath: photos + "/" + name)
        let database = folder.path + "/index.sqlite"
        #expect(try CommandRunner.run(["index", photos, "--db", database, "--model", Self.model]).status == 0)
        let table = try CommandRunner.run(["search", "a cat", "--db", database, "--model", Self.model])
        #expect(table.status == 0)
        #expect(!table.standardOutput.contains("\u{1B}") && !table.standardOutput.contains("\u{07}"))
        #expect(table.standardOutput.split(separator: "\n").count == 1, "\(table.standardOutput)")
        #expect(table.standardOutput.contains(photos + "/x\\x1b]0;PWNED\\x07\\x1b[2J\\x0a  1   0.9999  fake.png"), "\(table.standardOutput)")
        let json = try CommandRunner.run(["search", "a cat", "--json", "--db", database, "--model", Self.model])
        struct Line: Decodable { let path: String; let path_bytes: String? }
        let line = try JSONDecoder().decode(Line.self, from: Data(json.standardOutput.utf8))
        #expect(line.path == photos + "/" + name && line.path_bytes == nil)
    }

    /// The NUL-terminated paths of a --paths --null output, as bytes.
    func rawPaths(_ result: CommandRunner.Result) -> [[UInt8]] {
        result.standardOutputBytes.split(separator: 0).map(Array.init)
    }
}
