import Foundation
import Testing
import TestSupport

@Suite("photosearch index and status")
struct IndexCommandTests {
    let model = CommandRunner.fixture("models/oc-vit-gelu-p16")

    struct Summary: Decodable, Equatable {
        var scanned, added, updated, unchanged, moved, removed, failed: Int
        var interrupted: Bool
    }

    func summary(_ line: String) throws -> Summary {
        try JSONDecoder().decode(Summary.self, from: Data(line.utf8))
    }

    /// The "event" field of an NDJSON line; nil for the summary (or not JSON).
    func event(_ line: String) -> String? {
        struct Event: Decodable { let event: String? }
        return (try? JSONDecoder().decode(Event.self, from: Data(line.utf8)))?.event
    }

    func isSummary(_ line: String) -> Bool { event(line) == nil && (try? summary(line)) != nil }

    @Test("--json prints NDJSON events and a summary last; status reads the index")
    func jsonAndStatus() throws {
        let folder = try makePhotoFolder(count: 5)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("not a photo".utf8).write(to: folder.appendingPathComponent("photos/broken.jpg"))
        let database = folder.appendingPathComponent("index.sqlite").path
        let result = try CommandRunner.run(["index", folder.appendingPathComponent("photos").path, "--db", database,
                                            "--model", model, "--json"])
        #expect(result.status == 0)
        let lines = result.standardOutput.split(separator: "\n").map(String.init)
        #expect(lines.first == #"{"event":"scan","files":6,"to_process":6}"#)
        #expect(lines.contains { event($0) == "failed" && $0.contains("broken.jpg") })
        #expect(lines.contains { event($0) == "progress" })
        #expect(try summary(lines.last!) == Summary(scanned: 6, added: 5, updated: 0, unchanged: 0, moved: 0, removed: 0,
                                                    failed: 1, interrupted: false))
        let status = try CommandRunner.run(["status", "--db", database])
        #expect(status.status == 0)
        #expect(status.standardOutput.contains("Photos:   5 indexed, 1 failed"))
        #expect(status.standardOutput.contains("broken.jpg: not a JPEG, PNG, WebP or HEIF image"))
        #expect(status.standardOutput.contains("Model:    oc-vit-gelu-p16, 32-d int8 embeddings"))
        #expect(!status.standardOutput.contains("Embedded:"))
        // The run as the index keeps it: the same summary, its status, its times.
        struct StatusJSON: Decodable {
            struct Run: Decodable { let status: String; let started_at: String; let finished_at: String? }
            let last_run: Run
        }
        let json = try CommandRunner.run(["status", "--db", database, "--json"])
        let lastRun = try #require(json.standardOutput.split(separator: "\n").last.map(String.init))
        #expect(try JSONDecoder().decode(StatusJSON.self, from: Data(lastRun.utf8)).last_run.status == "completed", "\(lastRun)")
        struct Nested: Decodable { let last_run: Summary }
        #expect(try JSONDecoder().decode(Nested.self, from: Data(lastRun.utf8)).last_run == Summary(
            scanned: 6, added: 5, updated: 0, unchanged: 0, moved: 0, removed: 0, failed: 1, interrupted: false))
        let search = ["search", "a photo", "--db", database, "--model", model, "--top", "10"]
        let whole = try CommandRunner.run(search)
        #expect(whole.status == 0 && whole.standardError.isEmpty, "\(whole.standardError)")
        // As a run replacing the model leaves the index when it is stopped:
        // the old embeddings gone, some of the new ones made. Said, by
        // status and by each command that could not see the rest.
        _ = try CommandRunner.sqlite(database, "DELETE FROM embeddings WHERE id IN (SELECT id FROM embeddings LIMIT 2)")
        let partial = try CommandRunner.run(["status", "--db", database])
        #expect(partial.standardOutput.contains("Embedded: 3 of the 5 indexed photos have this model's embeddings; searches find only those"),
                "\(partial.standardOutput)")
        let missed = "2 indexed photos were not searched: a run replacing the model stopped before embedding them; "
            + "`photosearch index` finishes it\n"
        let found = try CommandRunner.run(search)
        #expect(found.status == 0 && found.standardOutput.split(separator: "\n").count == 3, "\(found.standardOutput)")
        #expect(found.standardError == "photosearch: " + missed, "\(found.standardError)")
        let similar = try CommandRunner.run(["similar", folder.appendingPathComponent("photos/photo-00000.jpg").path, "--db", database,
                                             "--model", model])
        #expect(similar.status == 0 && similar.standardError == "photosearch: " + missed, "\(similar.standardError)")
        let duplicates = try CommandRunner.run(["duplicates", "--db", database, "--json"])
        #expect(duplicates.standardError == "photosearch: " + missed.replacingOccurrences(of: "searched", with: "compared"),
                "\(duplicates.standardError)")
        // A re-run reads the broken photo no more; its "0 failed" says that it still fails.
        let again = try CommandRunner.run(["index", folder.appendingPathComponent("photos").path, "--db", database, "--model", model])
        #expect(again.status == 0)
        #expect(again.standardError.contains(" removed, 0 failed in "), "\(again.standardError)")
        #expect(again.standardError.hasSuffix(" s; 1 unchanged photo failed before (photosearch status lists it)\n"), "\(again.standardError)")
        let againJSON = try CommandRunner.run(["index", folder.appendingPathComponent("photos").path, "--db", database, "--model", model, "--json"])
        #expect(againJSON.standardOutput.split(separator: "\n").last?.contains(#""failed_before":1,"#) == true, "\(againJSON.standardOutput)")
    }

    @Test("status lists the folders runs were given, each with its photos: indexed and failed, in words and in --json")
    func statusFolders() throws {
        let folder = try makePhotoFolder(count: 3)
        defer { try? FileManager.default.removeItem(at: folder) }
        let photos = folder.appendingPathComponent("photos"), more = folder.appendingPathComponent("more photos")
        try FileManager.default.createDirectory(at: more, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: photos.appendingPathComponent("photo-00000.jpg"), to: more.appendingPathComponent("a.jpg"))
        try Data("not a photo".utf8).write(to: more.appendingPathComponent("b.jpg"))
        let empty = folder.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let database = folder.appendingPathComponent("index.sqlite").path
        for (roots, expected) in [([photos.path], 0), ([more.path, empty.path], 0), ([photos.path], 0)] {
            #expect(try CommandRunner.run(["index"] + roots + ["--db", database, "--model", model]).status == Int32(expected))
        }
        let text = try CommandRunner.run(["status", "--db", database]).standardOutput
        #expect(text.contains("""
            Photos:   4 indexed, 1 failed
            Folders:  \(more.path): 1 indexed, 1 failed
                      \(photos.path): 3 indexed, 0 failed

            """), "\(text)")
        struct StatusJSON: Decodable {
            struct Folder: Decodable, Equatable { let path: String; let indexed: Int; let failed: Int }
            let folders: [Folder]
        }
        let json = try CommandRunner.run(["status", "--db", database, "--json"]).standardOutput
        #expect(try JSONDecoder().decode(StatusJSON.self, from: Data(json.utf8)).folders
                == [.init(path: more.path, indexed: 1, failed: 1), .init(path: photos.path, indexed: 3, failed: 0)])
    }

    @Test("a folder without photos says why nothing was indexed, in words and in --json; exit 0")
    func noPhotos() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("photosearch-nophotos-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let empty = root.appendingPathComponent("empty"), other = root.appendingPathComponent("other")
        for folder in [empty, other, other.appendingPathComponent("deeper")] {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        }
        for name in ["notes.txt", "deeper/clip.mp4", "deeper/raw.CR2", ".hidden.jpg.txt"] {
            try Data("x".utf8).write(to: other.appendingPathComponent(name))
        }
        let database = root.appendingPathComponent("index.sqlite").path
        let skipped = "(hidden files and folders, and --exclude matches, are skipped)"
        for (folder, found) in [(empty, "no other file either"), (other, "3 files of other kinds")] {
            let result = try CommandRunner.run(["index", folder.path, "--db", database, "--model", model])
            #expect(result.status == 0)
            let expected = "photosearch: no photos found: photosearch indexes .jpg, .jpeg, .png, .webp, .heic and .heif files, "
                + "and found \(found) \(skipped)\n0 photos: 0 added, 0 updated, 0 unchanged, 0 moved, 0 removed, 0 failed in 0.0 s\n"
            // (After "preparing … for this computer", the first time this model is used.)
            #expect(result.standardError == expected || result.standardError.hasSuffix("\n" + expected), "\(result.standardError)")
        }
        let json = try CommandRunner.run(["index", other.path, "--db", database, "--model", model, "--json"])
        let lines = json.standardOutput.split(separator: "\n").map(String.init)
        #expect(lines.contains("{\"event\":\"no_photos\",\"other_files\":3}"), "\(json.standardOutput)")
    }

    @Test("a folder that held photos and holds none now (an unmounted drive's mount point) is refused, its photos kept, unless --allow-empty")
    func emptiedRoot() throws {
        let folder = try makePhotoFolder(count: 3)
        defer { try? FileManager.default.removeItem(at: folder) }
        let photos = folder.appendingPathComponent("photos"), other = folder.appendingPathComponent("other")
        try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: CommandRunner.fixture("photos/chelsea.png"), toPath: other.appendingPathComponent("cat.png").path)
        let database = folder.appendingPathComponent("index.sqlite").path
        #expect(try CommandRunner.run(["index", photos.path, other.path, "--db", database, "--model", model]).status == 0)
        // The drive "unmounted": its mount point is an empty folder.
        let away = folder.appendingPathComponent("away")
        try FileManager.default.moveItem(at: photos, to: away)
        try FileManager.default.createDirectory(at: photos, withIntermediateDirectories: true)
        for roots in [[photos.path], [other.path, photos.path]] {
            let refused = try CommandRunner.run(["index"] + roots + ["--db", database, "--model", model])
            #expect(refused.status == 1)
            #expect(refused.standardError.hasSuffix("""
                photosearch: error: \(photos.path) holds no photos now, yet the index has 3 from it: is a drive not mounted? \
                Nothing was changed in the index; if they were deleted, index again with --allow-empty to forget them

                """), "\(refused.standardError)")
        }
        let status = try CommandRunner.run(["status", "--db", database])
        #expect(status.standardOutput.contains("Photos:   4 indexed, 0 failed"), "\(status.standardOutput)")
        // Said on purpose: they go.
        let allowed = try CommandRunner.run(["index", photos.path, "--db", database, "--model", model, "--allow-empty", "--json"])
        #expect(allowed.status == 0, "\(allowed.standardError)")
        #expect(try summary(try #require(allowed.standardOutput.split(separator: "\n").last.map(String.init))).removed == 3)
        #expect(try CommandRunner.run(["status", "--db", database]).standardOutput.contains("Photos:   1 indexed, 0 failed"))
    }

    @Test("an index of another model or precision is refused before that model is prepared or loaded")
    func mismatchBeforeLoading() throws {
        let folder = try TemporaryDirectory()
        let database = folder.file("index.sqlite"), cache = ["XDG_CACHE_HOME": folder.file("cache")]
        let photo = CommandRunner.fixture("photos/rocket.jpg")
        let first = try CommandRunner.run(["index", photo, "--db", database, "--model", model], environment: cache)
        #expect(first.status == 0 && first.standardError.contains("preparing oc-vit-gelu-p16"), "\(first.standardError)")
        for (extra, refusal) in [(["--model", CommandRunner.fixture("models/oc-vit-quickgelu-p8")], "32-dimensional embeddings from model oc-vit-gelu-p16"),
                                 (["--model", model, "--precision", "fp32"], "computed in int8, not fp32")] {
            let other = try CommandRunner.run(["index", photo, "--db", database] + extra, environment: cache)
            #expect(other.status == 1 && other.standardError.hasPrefix("photosearch: error: this index holds ")
                    && other.standardError.contains(refusal) && !other.standardError.contains("preparing"), "\(extra): \(other.standardError)")
        }
    }

    @Test("status of a missing index, or an empty file: said, and nothing written; index makes an empty file an index")
    func statusWithoutIndex() throws {
        let result = try CommandRunner.run(["status", "--db", "/nonexistent/index.sqlite"])
        #expect(result.status == 1)
        #expect(result.standardError == "photosearch: error: no index at /nonexistent/index.sqlite; create one with: photosearch index PATH...\n")
        let folder = try TemporaryDirectory()
        let empty = try folder.write("empty.sqlite", [])
        for command in [["status"], ["search", "a cat", "--model", model], ["places"]] {
            let read = try CommandRunner.run(command + ["--db", empty])
            #expect(read.status == 1 && read.standardError == "photosearch: error: no index at \(empty); create one with: photosearch index PATH...\n",
                    "\(command): \(read.standardError)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["empty.sqlite"])
        func size() throws -> Int { try FileManager.default.attributesOfItem(atPath: empty)[.size] as? Int ?? -1 }
        #expect(try size() == 0)
        let made = try CommandRunner.run(["index", CommandRunner.fixture("photos/rocket.jpg"), "--db", empty, "--model", model])
        #expect(try made.status == 0 && size() > 0, "\(made.standardError)")
    }

    @Test("kill -9 in the middle loses at most a batch; the next run completes, every photo exactly once")
    func crashResume() throws {
        let count = 600
        let folder = try makePhotoFolder(count: count)
        defer { try? FileManager.default.removeItem(at: folder) }
        let database = folder.appendingPathComponent("index.sqlite").path
        let photos = folder.appendingPathComponent("photos").path
        let child = try ChildProcess(["index", photos, "--db", database, "--model", model, "--json", "--batch-size", "2", "--jobs", "1"])
        // A progress event means at least one batch is committed.
        let progress = child.waitForLine { event($0) == "progress" }
        #expect(progress != nil)
        child.signal(SIGKILL)
        let killed = child.finish()
        #expect(killed.reason == .uncaughtSignal)
        let committed = Int(try CommandRunner.sqlite(database, "SELECT COUNT(*) FROM photos")) ?? -1
        #expect(committed > 0 && committed < count, "the kill landed mid-run")
        #expect(try CommandRunner.sqlite(database, "SELECT status FROM runs ORDER BY id DESC LIMIT 1") == "running")
        // status tells the dead run from a live one.
        let status = try CommandRunner.run(["status", "--db", database])
        #expect(status.standardOutput.contains("Last run: interrupted, started "), "\(status.standardOutput)")
        #expect(status.standardOutput.contains("its process ended without finishing it (killed, or stopped by a full disk?); the next run continues"))

        let rerun = try CommandRunner.run(["index", photos, "--db", database, "--model", model, "--json"])
        #expect(rerun.status == 0)
        let resumed = try summary(rerun.standardOutput.split(separator: "\n").last.map(String.init) ?? "")
        #expect(resumed.unchanged == committed && resumed.added == count - committed && resumed.failed == 0)
        #expect(try CommandRunner.sqlite(database, "SELECT COUNT(*), COUNT(DISTINCT path) FROM photos") == "\(count)|\(count)")
        #expect(try CommandRunner.sqlite(database, "SELECT COUNT(*) FROM embeddings") == "\(count)")
        #expect(try CommandRunner.sqlite(database, "PRAGMA integrity_check") == "ok")
        #expect(try CommandRunner.sqlite(database, "SELECT group_concat(status) FROM runs ORDER BY id") == "interrupted,completed")
    }

    @Test("a second indexer on the same index exits at once with status 75")
    func secondWriter() throws {
        let folder = try makePhotoFolder(count: 600)
        defer { try? FileManager.default.removeItem(at: folder) }
        let database = folder.appendingPathComponent("index.sqlite").path
        let photos = folder.appendingPathComponent("photos").path
        let first = try ChildProcess(["index", photos, "--db", database, "--model", model, "--json", "--batch-size", "2", "--jobs", "1"])
        defer { first.signal(SIGKILL); _ = first.finish() }
        // The writer lock is taken before the scan is reported.
        #expect(first.waitForLine { event($0) == "scan" } != nil)
        let second = try CommandRunner.run(["index", photos, "--db", database, "--model", model])
        #expect(second.status == 75)
        #expect(second.standardError.hasPrefix("photosearch: error: another photosearch index is already writing to \(database) (process \(first.pid))"))
        // The same file by another name: its own lock, not only the name's
        // lock file; a hard-linked index is not written at all (a journal
        // beside one name corrupted it through the other).
        let symbolic = folder.appendingPathComponent("link.sqlite").path, hard = folder.appendingPathComponent("hard.sqlite").path
        try FileManager.default.createSymbolicLink(atPath: symbolic, withDestinationPath: database)
        let again = try CommandRunner.run(["index", photos, "--db", symbolic, "--model", model])
        #expect(again.status == 75, "\(again.standardError)")
        #expect(again.standardError.hasPrefix("photosearch: error: another photosearch index is already writing to \(symbolic)"))
        try FileManager.default.linkItem(atPath: database, toPath: hard)
        let linked = try CommandRunner.run(["index", photos, "--db", hard, "--model", model])
        #expect(linked.status != 0 && linked.standardError.contains("it has 2 names (hard links)"), "\(linked.standardError)")
        // Reading keeps working while it indexes, and names the writer.
        let status = try CommandRunner.run(["status", "--db", database])
        #expect(status.status == 0)
        #expect(status.standardOutput.contains("Last run: running (process \(first.pid)), started "), "\(status.standardOutput)")
        struct Writer: Decodable { let writer_process: Int32? }
        let json = try CommandRunner.run(["status", "--db", database, "--json"])
        #expect(try JSONDecoder().decode(Writer.self, from: Data(json.standardOutput.utf8)).writer_process == first.pid)
    }

    @Test("--every re-indexes until SIGTERM, SIGINT or SIGHUP (a closed terminal), which stop it cleanly between runs",
          arguments: [SIGTERM, SIGINT, SIGHUP])
    func everyStopsBetweenRuns(signal: Int32) throws {
        let folder = try makePhotoFolder(count: 3)
        defer { try? FileManager.default.removeItem(at: folder) }
        let database = folder.appendingPathComponent("index.sqlite").path
        let child = try ChildProcess(["index", folder.appendingPathComponent("photos").path, "--db", database,
                                      "--model", model, "--json", "--every", "1h"])
        let first = child.waitForLine(where: isSummary)
        #expect(try first.map(summary)?.added == 3)
        child.signal(signal)    // now sleeping for an hour
        let end = child.finish()
        #expect(end.reason == .exit && end.status == 0)
        #expect(end.standardError.contains("stopped by signal"))
    }

    @Test("a stop signal ignored when it started (a background job of a script ignores SIGINT) stays ignored: the run finishes")
    func ignoredInterrupt() throws {
        let count = 300
        let folder = try makePhotoFolder(count: count)
        defer { try? FileManager.default.removeItem(at: folder) }
        let database = folder.appendingPathComponent("index.sqlite").path
        let child = try ChildProcess(["index", folder.appendingPathComponent("photos").path, "--db", database,
                                      "--model", model, "--json", "--batch-size", "2", "--jobs", "1"],
                                     launcher: ["/bin/sh", "-c", "trap '' INT; exec \"$0\" \"$@\""])
        #expect(child.waitForLine { event($0) == "progress" } != nil)
        child.signal(SIGINT)
        let line = child.waitForLine(where: isSummary)
        let end = child.finish()
        #expect(end.reason == .exit && end.status == 0, "\(end.standardError)")
        #expect(try line.map(summary)?.added == count)
    }

    @Test("--every --json: a run that cannot start (a root that is not there) is a run_failed event on standard output, and the next run comes")
    func everyRunFailedEvent() throws {
        let folder = try makePhotoFolder(count: 2)
        defer { try? FileManager.default.removeItem(at: folder) }
        let database = folder.appendingPathComponent("index.sqlite").path
        let photos = folder.appendingPathComponent("photos").path
        // A root that never held a photo: every run refused, said each time as an event.
        let child = try ChildProcess(["index", photos, folder.appendingPathComponent("typo").path, "--db", database,
                                      "--model", model, "--json", "--every", "1s"])
        struct Failed: Decodable { let event: String; let error: String }
        for _ in 0..<2 {
            let line = try #require(child.waitForLine { event($0) == "run_failed" })
            let failed = try JSONDecoder().decode(Failed.self, from: Data(line.utf8))
            #expect(failed.error == "\(folder.appendingPathComponent("typo").path) does not exist (nothing was changed in the index)")
        }
        child.signal(SIGTERM)
        #expect(child.finish().status == 0)
    }

    @Test("SIGTERM during a run: the batch in flight is dropped whole, the index stays consistent")
    func sigtermDuringRun() throws {
        let count = 600
        let folder = try makePhotoFolder(count: count)
        defer { try? FileManager.default.removeItem(at: folder) }
        let database = folder.appendingPathComponent("index.sqlite").path
        let child = try ChildProcess(["index", folder.appendingPathComponent("photos").path, "--db", database,
                                      "--model", model, "--json", "--every", "1d", "--batch-size", "2", "--jobs", "1"])
        #expect(child.waitForLine { event($0) == "progress" } != nil)
        child.signal(SIGTERM)
        let line = child.waitForLine(where: isSummary)
        let end = child.finish()
        #expect(end.reason == .exit && end.status == 0)
        let interrupted = try #require(try line.map(summary))
        #expect(interrupted.interrupted && interrupted.added < count)
        #expect(try CommandRunner.sqlite(database, "SELECT COUNT(*) FROM photos") == "\(interrupted.added)")
        #expect(try CommandRunner.sqlite(database, "SELECT COUNT(*) FROM embeddings") == "\(interrupted.added)")
        #expect(try CommandRunner.sqlite(database, "SELECT status FROM runs ORDER BY id DESC LIMIT 1") == "interrupted")
        #expect(try CommandRunner.sqlite(database, "PRAGMA integrity_check") == "ok")
    }
}
