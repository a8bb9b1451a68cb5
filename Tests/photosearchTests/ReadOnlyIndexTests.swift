import Foundation
import Testing
import TestSupport

@Suite("Reading never needs to write: read-only indexes and full disks")
struct ReadOnlyIndexTests {
    /// In a folder the other user can read too (a CI clone may be private).
    static let model = OtherUser.model("oc-vit-gelu-p16")

    /// Fixture photos indexed into a folder every user can read.
    final class Indexed {
        let root: URL
        var photos: String { root.appendingPathComponent("photos").path }
        var database: String { root.appendingPathComponent("index/index.sqlite").path }
        var indexFolder: String { root.appendingPathComponent("index").path }

        init(count: Int? = nil) throws {
            if let count {
                root = try makePhotoFolder(count: count)
            } else {
                root = FileManager.default.temporaryDirectory.appendingPathComponent("photosearch-readonly-\(UUID().uuidString)")
                try FileManager.default.createDirectory(atPath: root.appendingPathComponent("photos").path, withIntermediateDirectories: true)
                for name in ["chelsea.png", "rocket.jpg", "coffee-portrait.jpg", "camera.png", "chelsea.webp"] {
                    try FileManager.default.copyItem(atPath: CommandRunner.fixture("photos/" + name),
                                                     toPath: root.appendingPathComponent("photos/" + name).path)
                }
            }
            for folder in [root.path, photos] { chmod(folder, 0o755) }
            let result = try CommandRunner.run(["index", photos, "--db", database, "--model", ReadOnlyIndexTests.model])
            precondition(result.status == 0, result.standardError)
            chmod(indexFolder, 0o755)
        }

        /// Index files 444, their folder 555; undone by `writable()`.
        func readOnly() throws {
            for name in try FileManager.default.contentsOfDirectory(atPath: indexFolder) { chmod(indexFolder + "/" + name, 0o444) }
            chmod(indexFolder, 0o555)
        }

        func writable() throws {
            chmod(indexFolder, 0o755)
            for name in try FileManager.default.contentsOfDirectory(atPath: indexFolder) { chmod(indexFolder + "/" + name, 0o644) }
        }

        deinit {
            try? writable()
            try? FileManager.default.removeItem(at: root)
        }
    }

    /// Each file's name, modification time and content.
    static func snapshot(_ folder: String) throws -> [String: [String]] {
        var files: [String: [String]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) {
            let path = folder + "/" + name
            let modified = (try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            files[name] = ["\(modified)", try Data(contentsOf: URL(fileURLWithPath: path)).base64EncodedString()]
        }
        return files
    }

    /// Searches as they run on a small library, and on the partitioned
    /// vector file of a large one (a partition from 1 photo: every cell is
    /// probed by default at this size, so the results are the same).
    static let layouts: [[String: String]] = [[:], ["PHOTOSEARCH_PARTITION_FROM": "1"]]

    @Test("a read-only index answers search, similar, duplicates and status exactly as a writable one", arguments: layouts)
    func readOnlyIndex(layout: [String: String]) throws {
        let index = try Indexed()
        let commands: [[String]] = [
            ["search", "a cat", "--json", "--model", Self.model],
            ["similar", index.photos + "/rocket.jpg", "--json"],
            ["duplicates", "--threshold", "0.9", "--json"],
        ]
        // As a writer sees them (and without a vector file yet).
        let expected = try commands.map { try CommandRunner.run($0 + ["--db", index.database]).standardOutput }
        try FileManager.default.removeItem(atPath: index.database + ".vectors")
        try index.readOnly()
        let before = try Self.snapshot(index.indexFolder)
        for (command, output) in zip(commands, expected) {
            let result = try OtherUser.run(command + ["--db", index.database], environment: layout)
            #expect(result.status == 0, "\(command): \(result.standardError)")
            #expect(result.standardOutput == output, "\(command)")
        }
        let status = try OtherUser.run(["status", "--db", index.database])
        #expect(status.status == 0, "\(status.standardError)")
        #expect(status.standardOutput.contains("Photos:   5 indexed, 0 failed"))
        // Nothing was written: no vector file, no SQLite side files, no file
        // changed.
        #expect(try Self.snapshot(index.indexFolder) == before)
        #expect(!FileManager.default.fileExists(atPath: index.database + ".vectors"))
        // Indexing, which must write, says so.
        let writing = try OtherUser.run(["index", index.photos, "--db", index.database, "--model", Self.model])
        #expect(writing.status == 1)
        #expect(writing.standardError.hasPrefix("photosearch: error: "), "\(writing.standardError)")
    }

    @Test("with no room for the vector file, searches run from memory and give the same results", arguments: layouts)
    func noRoom(layout: [String: String]) throws {
        // 600 photos: a vector file of ~50 KB, more than the 40 KB a file may
        // grow to below (RLIMIT_FSIZE, as `ulimit -f`: writes beyond it fail
        // with EFBIG, as they would with ENOSPC on a full disk).
        let index = try Indexed(count: 600)
        let search = ["search", "a rocket", "--json", "--top", "20", "--db", index.database, "--model", Self.model]
        let limited = try CommandRunner.run(executable: URL(fileURLWithPath: "/bin/bash"), [
            "-c", "trap '' XFSZ; ulimit -f 40; exec \"$0\" \"$@\"", CommandRunner.executable.path,
        ] + search, environment: layout)
        #expect(limited.status == 0, "\(limited.standardError)")
        #expect(!FileManager.default.fileExists(atPath: index.database + ".vectors"))
        let unlimited = try CommandRunner.run(search, environment: layout)
        #expect(unlimited.status == 0)
        #expect(FileManager.default.fileExists(atPath: index.database + ".vectors"))
        // The layout asked for is the one written.
        let status = try CommandRunner.run(["status", "--json", "--db", index.database]).standardOutput
        #expect(status.contains(layout.isEmpty ? #""vector_file":{"cells":0,"newer":0,"probes":null,"rows":600}"#
                                               : #""vector_file":{"cells":16,"newer":0,"probes":16,"rows":600}"#), "\(status)")
        #expect(limited.standardOutput == unlimited.standardOutput)
        #expect(limited.standardOutput.split(separator: "\n").count == 20)
    }

    @Test("a search killed while it rewrites the vector file leaves the old one in place; the next search clears its remains",
          arguments: layouts)
    func killedRebuild(layout: [String: String]) throws {
        // 600 copies of one photo and 300 of another, the example searched with.
        let index = try Indexed(count: 600)
        let others = try makePhotoFolder(count: 300, fixture: "photos/astronaut-progressive.jpg")
        defer { try? FileManager.default.removeItem(at: others) }
        var added: [String] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: others.appendingPathComponent("photos").path) {
            try FileManager.default.moveItem(atPath: others.appendingPathComponent("photos/" + name).path, toPath: index.photos + "/astronaut-" + name)
            added.append(index.photos + "/astronaut-" + name)
        }
        let example = others.appendingPathComponent("example.jpg").path
        try FileManager.default.copyItem(atPath: CommandRunner.fixture("photos/astronaut-progressive.jpg"), toPath: example)
        let reindex = ["index", index.photos, "--db", index.database, "--model", Self.model]
        let indexed = try CommandRunner.run(reindex)
        #expect(indexed.status == 0, "\(indexed.status): \(indexed.standardError)")
        let search = ["similar", example, "--json", "--top", "20", "--db", index.database, "--model", Self.model]
        let first = try CommandRunner.run(search, environment: layout)
        #expect(first.status == 0, "\(first.standardError)")
        #expect(first.standardOutput.split(separator: "\n").allSatisfy { $0.contains("/astronaut-photo-") })
        let vectors = index.database + ".vectors"
        let old = try Data(contentsOf: URL(fileURLWithPath: vectors))
        // Those 300 deleted: the next search finds its best candidates gone
        // and writes the file again, for 600 rows (~50 KB).
        for path in added { try FileManager.default.removeItem(atPath: path) }
        #expect(try CommandRunner.run(reindex).status == 0)
        // kill -9 at the worst moment: the new file written in full, just
        // before it is renamed over the old one (rename(2) interposed by a
        // preloaded library that sends the process SIGKILL: no handler, no
        // clean-up).
        let killed = try CommandRunner.run(search, environment: layout.merging([
            "LD_PRELOAD": FaultInjection.library, "PHOTOSEARCH_KILL_BEFORE_RENAME": ".vectors",
        ]) { $1 })
        #expect(killed.reason == .uncaughtSignal && killed.status == SIGKILL, "\(killed.standardError)")
        let remains = try FileManager.default.contentsOfDirectory(atPath: index.indexFolder).filter { $0.hasSuffix(".tmp") }
        #expect(remains.count == 1, "the kill left the new file under its temporary name: \(remains)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: vectors)) == old, "the old file is untouched")
        // The next search rewrites it, removes the dead process's file and
        // answers as a search on a file written from scratch does.
        let next = try CommandRunner.run(search, environment: layout)
        #expect(next.status == 0, "\(next.standardError)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: index.indexFolder).filter { $0.hasSuffix(".tmp") }.isEmpty)
        #expect(try Data(contentsOf: URL(fileURLWithPath: vectors)) != old)
        try FileManager.default.removeItem(atPath: vectors)
        let fresh = try CommandRunner.run(search, environment: layout)
        #expect(next.standardOutput == fresh.standardOutput)
        #expect(next.standardOutput.split(separator: "\n").count == 20)
        #expect(!next.standardOutput.contains("/astronaut-"))
        let status = try CommandRunner.run(["status", "--json", "--db", index.database]).standardOutput
        #expect(status.contains(layout.isEmpty ? #""vector_file":{"cells":0,"newer":0,"probes":null,"rows":600}"#
                                               : #""vector_file":{"cells":16,"newer":0,"probes":16,"rows":600}"#), "\(status)")
    }

    @Test("a photo its indexer may not read is recorded as failed, for that reason, and the others indexed")
    func unreadablePhoto() throws {
        // A folder and an index everyone may write; one photo nobody but its owner may read.
        let folder = try TemporaryDirectory()
        chmod(folder.path, 0o777)
        try FileManager.default.createDirectory(atPath: folder.file("photos"), withIntermediateDirectories: true)
        chmod(folder.file("photos"), 0o755)
        for (name, source) in [("readable.jpg", "rocket.jpg"), ("locked.jpg", "coffee-64.jpg")] {
            try FileManager.default.copyItem(atPath: CommandRunner.fixture("photos/" + source), toPath: folder.file("photos/" + name))
            chmod(folder.file("photos/" + name), 0o644)
        }
        chmod(folder.file("photos/locked.jpg"), 0)
        defer { chmod(folder.file("photos/locked.jpg"), 0o644) }
        let index = try OtherUser.run(["index", folder.file("photos"), "--db", folder.file("index.sqlite"), "--model", Self.model, "--json"])
        #expect(index.status == 0, "\(index.standardError)")
        #expect(index.standardOutput.contains(#""error":"cannot read: permission denied","event":"failed","path":"\#(folder.file("photos/locked.jpg"))""#),
                "\(index.standardOutput)")
        let status = try CommandRunner.run(["status", "--db", folder.file("index.sqlite")])
        #expect(status.standardOutput.contains("Photos:   1 indexed, 1 failed"))
    }
}
