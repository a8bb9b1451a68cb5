import Compute
import Foundation
import GRDB
import Testing
@testable import PhotoIndex

@Suite("Bad files are recorded, skipped, and retried when they change")
struct IndexBadFileTests {
    @Test("every kind of bad file")
    func badFiles() throws {
        let workspace = try Workspace()
        try workspace.copy("photos/coffee-portrait.jpg", to: "good.jpg")
        let coffee = try Fixture.bytes("photos/coffee-portrait.jpg")
        try workspace.add("truncated.jpg", Array(coffee.prefix(coffee.count / 3)))
        try workspace.add("corrupt.jpg", [0xFF, 0xD8, 0xFF, 0xE0] + Array(repeating: 0x5A, count: 2000))
        try workspace.add("empty.png", [])
        try workspace.add("letter.jpg", Array("Dear Anne, the photos are attached.\n".utf8))
        try workspace.copy("photos/rocket.jpg", to: "huge.jpg")
        let vanishing = try workspace.copy("photos/chelsea.png", to: "vanishing.png")
        var failures: [String: String] = [:]
        var options = IndexingOptions(roots: [workspace.photos])
        options.maximumPixels = 200_000      // rocket.jpg is 640 × 427, coffee-portrait.jpg 267 × 400
        options.afterScan = { try? FileManager.default.removeItem(atPath: vanishing) }
        let summary = try workspace.indexer(try workspace.database()).run(options) { event in
            if case let .failed(path, reason) = event { failures[(path as NSString).lastPathComponent] = reason }
        }
        #expect(summary.scanned == 7 && summary.added == 1 && summary.failed == 5 && summary.vanished == 1)
        #expect(failures["truncated.jpg"] == "not a valid JPEG file: premature end of JPEG file")
        #expect(failures["corrupt.jpg"]?.hasPrefix("not a valid JPEG file:") == true)
        #expect(failures["empty.png"] == "empty file")
        #expect(failures["letter.jpg"] == "not a JPEG, PNG, WebP or HEIF image")
        #expect(failures["huge.jpg"] == "640x427 pixels, above the limit of 200000 pixels")
        // Gone between the scan and its reading: nothing recorded.
        #expect(try failures["vanishing.png"] == nil && workspace.photo(vanishing) == nil)
        let status = try IndexStatus.read(try workspace.database())
        #expect(status.indexed == 1 && status.failed == 5)
        #expect(Set(status.failures.map { ($0.path as NSString).lastPathComponent }) == Set(failures.keys))
        #expect(try workspace.database().integrityCheck() == "ok")

        // Unchanged bad files are not tried again...
        let second = try workspace.run()
        #expect(second.failed == 0 && second.unchanged == 6 && second.removed == 0 && second.vanished == 0)
        // ...a repaired one is.
        try workspace.copy("photos/coffee-portrait.jpg", to: "truncated.jpg")
        touch(workspace.photos + "/truncated.jpg", secondsAgo: 10)
        let third = try workspace.run()
        #expect(third.updated == 1 && third.failed == 0)
        #expect(try workspace.photo(workspace.photos + "/truncated.jpg")?.state == .indexed)
        #expect(try workspace.embedding(workspace.photos + "/truncated.jpg") != nil)
    }

    @Test("a photo that vanished for a moment is indexed when it is back")
    func vanishedForAMoment() throws {
        let workspace = try Workspace()
        try workspace.copy("photos/coffee-portrait.jpg", to: "a/kept.jpg")
        let away = try workspace.copy("photos/chelsea.png", to: "b/cat.png")
        let folder = workspace.photos + "/b"
        // The folder is renamed away after the scan, and back before the next run.
        let summary = try workspace.run { $0.afterScan = { _ = rename(folder, folder + "-away") } }
        #expect(summary.scanned == 2 && summary.added == 1 && summary.failed == 0 && summary.vanished == 1)
        #expect(try workspace.photo(away) == nil)
        #expect(rename(folder + "-away", folder) == 0)
        let again = try workspace.run()
        #expect(again.added == 1 && again.unchanged == 1 && again.failed == 0)
        #expect(try workspace.embedding(away) != nil)
    }

    @Test("a photo that could not be read is tried again though it did not change; one that did not decode is not")
    func unreadableRetried() throws {
        let workspace = try Workspace()
        let good = try workspace.copy("photos/coffee-portrait.jpg", to: "good.jpg")
        let coffee = try Fixture.bytes("photos/coffee-portrait.jpg")
        let truncated = try workspace.add("truncated.jpg", Array(coffee.prefix(coffee.count / 3)))
        _ = try workspace.run()
        // As a run leaves a photo it could not open (permissions, which chmod
        // fixes without changing the modification time; or, before, one that
        // vanished during the run).
        try workspace.database().write { db in
            try db.execute(sql: "UPDATE photos SET state = 'failed', content_hash = NULL, last_error = ? WHERE path = ?",
                           arguments: ["cannot read: permission denied", good])
            try db.execute(sql: "DELETE FROM embeddings WHERE photo_id = (SELECT id FROM photos WHERE path = ?)", arguments: [good])
        }
        let summary = try workspace.run()
        #expect(summary.updated == 1 && summary.unchanged == 1 && summary.failed == 0)
        #expect(try workspace.embedding(good) != nil)
        #expect(try workspace.photo(truncated)?.state == .failed)
    }

    @Test("a full disk stops the run with the index intact")
    func diskFull() throws {
        let workspace = try Workspace()
        for index in 0..<200 {
            try workspace.add("photo-\(index).jpg", try Fixture.uniqueJPEG("photos/coffee-64.jpg", tag: "\(index)"))
        }
        // Cap the database a page above its empty size (pages of 16 KiB):
        // SQLite then reports SQLITE_FULL partway through, as on a full disk.
        let emptyPages = try workspace.database().read { db in try Int.fetchOne(db, sql: "PRAGMA page_count")! }
        let database = try workspace.database(pageLimit: emptyPages + 1)
        var options = IndexingOptions(roots: [workspace.photos])
        options.batchSize = 4
        #expect(throws: PhotoIndexError.diskFull(path: workspace.databasePath)) {
            try Indexer(database: database, model: Fixture.model, identity: try Fixture.identity()).run(options)
        }
        let reopened = try workspace.database()
        #expect(try reopened.integrityCheck() == "ok")
        let photos = try workspace.count("SELECT COUNT(*) FROM photos")
        #expect(photos > 0 && photos < 200, "\(photos)")
        #expect(try workspace.count("SELECT COUNT(*) FROM embeddings") == photos)
        // With room again, the next run finishes the job.
        let summary = try workspace.run()
        #expect(summary.added == 200 - photos)
    }

    @Test("SQLite's shared-memory file that cannot grow (a full disk, at a run with nothing to do) is a full disk, not an I/O error")
    func sharedMemoryFull() {
        let error = DatabaseError(resultCode: .SQLITE_IOERR_SHMSIZE, message: "disk I/O error")
        #expect(IndexDatabase.translate(error, path: "/x/index.sqlite") == .diskFull(path: "/x/index.sqlite"))
        #expect(IndexDatabase.translate(DatabaseError(resultCode: .SQLITE_IOERR_READ, message: "disk I/O error"), path: "/x/index.sqlite")
            == .database(path: "/x/index.sqlite", reason: "disk I/O error"))
    }

    @Test("a new index the disk has no room to make is not left half made (it read as an older version's)")
    func diskFullOnCreation() throws {
        let workspace = try Workspace()
        #expect(throws: PhotoIndexError.diskFull(path: workspace.databasePath)) { try workspace.database(pageLimit: 2) }
        for file in ["", "-wal", "-shm"] { #expect(!FileManager.default.fileExists(atPath: workspace.databasePath + file), "\(file)") }
        #expect(throws: PhotoIndexError.indexNotFound(path: workspace.databasePath)) {
            try IndexDatabase(path: workspace.databasePath, create: false)
        }
    }
}

@Suite("Index database")
struct IndexDatabaseTests {
    @Test("the writer is found in the kernel's lock table while it holds the lock, and only then")
    func lockHolder() throws {
        let workspace = try Workspace()
        _ = try workspace.database()
        #expect(WriterLock.holder(indexPath: workspace.databasePath) == nil)
        do {
            let lock = try WriterLock(indexPath: workspace.databasePath)
            #expect(WriterLock.holder(indexPath: workspace.databasePath) == getpid())
            withExtendedLifetime(lock) {}
        }
        #expect(WriterLock.holder(indexPath: workspace.databasePath) == nil)
    }

    @Test("a missing index is reported as such when not creating")
    func missing() throws {
        let workspace = try Workspace()
        #expect(throws: PhotoIndexError.indexNotFound(path: workspace.databasePath)) {
            try IndexDatabase(path: workspace.databasePath, create: false)
        }
    }

    @Test("a file that is not an index is refused")
    func notAnIndex() throws {
        let workspace = try Workspace()
        try Data("this is not sqlite at all, just some text that is long enough".utf8).write(to: URL(fileURLWithPath: workspace.databasePath))
        #expect(throws: PhotoIndexError.notAnIndex(path: workspace.databasePath)) {
            try IndexDatabase(path: workspace.databasePath, create: true)
        }
    }

    @Test("another program's SQLite database is refused, left byte for byte as it was (its journal mode too); a newer photosearch's index is read, not written")
    func otherDatabases() throws {
        let workspace = try Workspace()
        let path = workspace.databasePath
        func bytes() throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }
        // A rollback-journal database, and another GRDB application's (it has grdb_migrations).
        for schema in ["CREATE TABLE accounts(id INTEGER PRIMARY KEY, owner TEXT); INSERT INTO accounts VALUES (1, 'alice')",
                       "CREATE TABLE grdb_migrations(identifier TEXT NOT NULL PRIMARY KEY); INSERT INTO grdb_migrations VALUES ('createNotes');"
                       + "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT)"] {
            for suffix in ["", "-wal", "-shm", "-journal"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            try DatabaseQueue(path: path).write { db in try db.execute(sql: schema) }
            let before = try bytes()
            for create in [true, false] {
                #expect(throws: PhotoIndexError.notAnIndex(path: path)) { try IndexDatabase(path: path, create: create) }
            }
            // (Opening a pool had switched it to WAL mode for good: its header's bytes 18 and 19.)
            #expect(try bytes() == before)
            #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
        }
        // An index a newer version migrated further.
        for suffix in ["", "-wal", "-shm", "-journal"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        _ = try workspace.copy("photos/rocket.jpg", to: "rocket.jpg")
        _ = try workspace.run()
        try DatabaseQueue(path: path).write { db in try db.execute(sql: "INSERT INTO grdb_migrations VALUES ('v99: from the future')") }
        #expect(throws: PhotoIndexError.databaseUnavailable(path: path, reason: """
            a newer photosearch made it (its schema has "v99: from the future"): this version searches it, \
            but only the newer one may index into it
            """)) { try IndexDatabase(path: path, create: true) }
        #expect(try IndexDatabase(path: path, create: false).read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM photos") } == 1)
    }

    @Test("a generation is recorded by a write that changes the embeddings, and only then; an index made before generations takes them when it can be written, even by a search")
    func generations() throws {
        let workspace = try Workspace()
        _ = try workspace.copy("photos/rocket.jpg", to: "rocket.jpg")
        _ = try workspace.run()
        func count() throws -> Int { try workspace.count("SELECT COUNT(*) FROM generations") }
        let indexed = try count()
        _ = try workspace.run()   // nothing to do: a run's records, no embeddings
        #expect(try count() == indexed)
        _ = try workspace.copy("photos/camera.png", to: "camera.png")
        _ = try workspace.run()
        #expect(try count() == indexed + 1)
        try FileManager.default.removeItem(atPath: workspace.photos + "/camera.png")
        _ = try workspace.run()   // removed: its embedding went by the foreign key's cascade
        #expect(try count() == indexed + 2)
        // As a version before v9 left it.
        try DatabaseQueue(path: workspace.databasePath).write { db in
            try db.execute(sql: """
                DROP TRIGGER embeddings_added; DROP TRIGGER embeddings_removed; DROP TRIGGER embeddings_changed;
                DROP TABLE generation_pending; DROP TABLE generations;
                DELETE FROM grdb_migrations WHERE identifier = 'v9: generations';
                """)
        }
        _ = try IndexDatabase(path: workspace.databasePath, create: false)
        #expect(try count() == 1)
    }

    @Test("a SQLite file without a table is no index to read (nor written by reading); an index run makes one in it")
    func emptySchema() throws {
        let workspace = try Workspace()
        try DatabaseQueue(path: workspace.databasePath).write { db in try db.execute(sql: "PRAGMA user_version = 5") }
        try DatabaseQueue(path: workspace.databasePath).writeWithoutTransaction { db in try db.execute(sql: "VACUUM") }
        let before = try Data(contentsOf: URL(fileURLWithPath: workspace.databasePath))
        #expect(throws: PhotoIndexError.indexNotFound(path: workspace.databasePath)) {
            try IndexDatabase(path: workspace.databasePath, create: false)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: workspace.databasePath)) == before)
        _ = try workspace.copy("photos/rocket.jpg", to: "rocket.jpg")
        #expect(try workspace.run().added == 1)
    }

    @Test("an index with two names (hard links) is not written: a journal beside one name would corrupt it through the other")
    func hardLinked() throws {
        let workspace = try Workspace()
        _ = try workspace.database()
        let other = workspace.root.appendingPathComponent("other.sqlite").path
        #expect(link(workspace.databasePath, other) == 0)
        #expect(throws: PhotoIndexError.databaseUnavailable(path: workspace.databasePath, reason: """
            it has 2 names (hard links), and SQLite's journal beside one name would corrupt what was written \
            through another: give it one name (cp it to a new file and mv that over it; a symbolic link is safe)
            """)) { try workspace.database() }
        _ = try IndexDatabase(path: workspace.databasePath, create: false)   // read
        unlink(other)
        _ = try workspace.database()
    }

    @Test("a run's write-ahead log stays within 4 MiB (SQLite's default let it reach 16 MiB of our pages, beyond the index's own size)")
    func walBounded() throws {
        let workspace = try Workspace()
        let database = try workspace.database()
        let limits = try database.write { db in
            (try Int.fetchOne(db, sql: "PRAGMA wal_autocheckpoint")!, try Int.fetchOne(db, sql: "PRAGMA journal_size_limit")!)
        }
        #expect(limits == (256, 4 << 20))
    }

    @Test("one writer at a time")
    func writerLock() throws {
        let workspace = try Workspace()
        let first = try WriterLock(indexPath: workspace.databasePath)
        #expect(throws: PhotoIndexError.writerBusy(path: workspace.databasePath, holder: "process \(getpid())")) {
            try WriterLock(indexPath: workspace.databasePath)
        }
        withExtendedLifetime(first) {}
    }

    @Test("XXH64 matches the reference implementation's test values")
    func contentHash() {
        // Values from the xxhash Python package (xxhash.xxh64(data).intdigest()).
        #expect(ContentHash.xxh64([]) == 0xEF46_DB37_51D8_E999)
        #expect(ContentHash.xxh64(Array("a".utf8)) == 0xD24E_C4F1_A98C_6E5B)
        #expect(ContentHash.xxh64(Array("abc".utf8)) == 0x44BC_2CF5_AD77_0999)
        #expect(ContentHash.xxh64(Array(String(repeating: "0123456789", count: 10).utf8)) == 0xF80E_7B96_315A_FFFA)
        #expect(ContentHash.xxh64(Array(repeating: Array(0...255).map(UInt8.init), count: 5).flatMap { $0 }) == 0xAFC1_84AD_7938_A354)
    }
}
