import CLIP
import Compute
import FileAccess
import Foundation
import GRDB
import Imaging
import Testing
import TestSupport
@testable import PhotoIndex

@Suite("Searching an index")
struct SearchTests {
    static let textModel = try! CLIPModel(directory: Fixture.modelPath, towers: .text)

    /// The fixture photos, indexed.
    func indexedFixtures() throws -> Workspace {
        let workspace = try Workspace()
        for name in ["chelsea.png", "rocket.jpg", "coffee-portrait.jpg", "astronaut-progressive.jpg", "camera.png",
                     "chelsea.webp", "coffee.heic", "chelsea-alpha.png", "astronaut-64.png", "coffee-64.png"] {
            try workspace.copy("photos/\(name)", to: name)
        }
        _ = try workspace.run()
        return workspace
    }

    /// Brute force over every stored float32 vector: the exact ranking.
    func bruteForce(_ workspace: Workspace, _ query: [Float]) throws -> [(String, Float)] {
        let unit = VectorMath.normalized(query)
        let rows = try workspace.database().read { db in
            try Row.fetchAll(db, sql: "SELECT p.id, p.path, e.vector FROM photos p JOIN embeddings e ON e.photo_id = p.id")
        }
        // Equal scores (a photo and its copy) in photo id order, as the searcher ranks them.
        let scored = rows.map { row -> (id: Int64, path: String, score: Float) in
            let vector = VectorBlob.vector(row["vector"])
            return (row["id"], row["path"], zip(unit, vector).reduce(Float(0)) { $0 + $1.0 * $1.1 })
        }
        return scored.sorted { $0.score > $1.score || ($0.score == $1.score && $0.id < $1.id) }.map { ($0.path, $0.score) }
    }

    @Test("ranking and scores equal a float32 brute force", arguments: ["a cat", "a rocket launch", "a cup of coffee", "an astronaut"])
    func rankingMatchesBruteForce(text: String) throws {
        let workspace = try indexedFixtures()
        let query = Self.textModel.encode(texts: [text])[0]
        let expected = try bruteForce(workspace, query)
        let results = try PhotoSearcher(database: try workspace.database()).search(query, top: 5)
        #expect(results.map(\.path) == expected.prefix(5).map(\.0))
        for (result, reference) in zip(results, expected) {
            #expect(abs(result.score - reference.1) < 1e-5)
        }
    }

    @Test("photos indexed after the vector file was written are found; deleted ones never come back")
    func incremental() throws {
        let workspace = try indexedFixtures()
        let searcher = try PhotoSearcher(database: try workspace.database())
        let query = Self.textModel.encode(texts: ["a rocket"])[0]
        let before = try searcher.search(query, top: 20)
        #expect(before.count == 10)
        let matrixRows = try searcher.currentMatrix().rows
        // A new photo: in SQLite, not in the vector file.
        try workspace.add("new/launch.jpg", try Fixture.uniqueJPEG("photos/rocket.jpg", tag: "new"))
        try FileManager.default.removeItem(atPath: workspace.photos + "/coffee.heic")
        _ = try workspace.run()
        let fresh = try PhotoSearcher(database: try workspace.database())
        #expect(try fresh.currentMatrix().rows == matrixRows)   // not rebuilt for one photo
        let after = try fresh.search(query, top: 20)
        #expect(after.contains { $0.path.hasSuffix("/new/launch.jpg") })
        #expect(!after.contains { $0.path.hasSuffix("/coffee.heic") })
        #expect(after.count == 10)
        #expect(after.map(\.path) == (try bruteForce(workspace, query)).prefix(20).map(\.0))
    }

    @Test("a re-embedded photo is scored with its new vector")
    func reembedded() throws {
        let workspace = try indexedFixtures()
        let query = Self.textModel.encode(texts: ["a grey photograph"])[0]
        _ = try PhotoSearcher(database: try workspace.database()).search(query, top: 3)   // writes the vector file
        // (Bytes of its own: a copy of another photo is shown as that photo.)
        _ = try workspace.add("chelsea.png", try Fixture.uniqueJPEG("photos/rocket.jpg", tag: "re-embedded"))
        touch(workspace.photos + "/chelsea.png", secondsAgo: 20)
        _ = try workspace.run()
        let results = try PhotoSearcher(database: try workspace.database()).search(query, top: 10)
        let expected = try bruteForce(workspace, query)
        #expect(results.map(\.path) == expected.map(\.0))
    }

    @Test("a date filter holding few photos reads the time index (its range, and the photos without a time); a wide one every row; both let through what comparing every rendered date does")
    func dateFiltersByTimeIndex() throws {
        let workspace = try Workspace()
        // Twelve photos by file time, one in the spring of each year from 2013.
        for year in 0..<12 {
            let path = try workspace.copy("photos/rocket.jpg", to: "years/\(2013 + year).jpg")
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: Double(1_364_000_000 + year * 31_557_600))],
                                                  ofItemAtPath: path)
        }
        _ = try workspace.run()
        // EXIF dates: one SQLite reads late (3 March), and texts it does not read as dates, which have no time.
        let queue = try DatabaseQueue(path: workspace.databasePath)
        try queue.write { db in
            for (year, taken) in [(2014, "2023-02-31T12:00:00"), (2015, "junk"), (2016, "2023-06-01 10:00:00"), (2017, "")] {
                try db.execute(sql: "UPDATE photos SET taken_at = ? WHERE path LIKE ?", arguments: [taken, "%/\(year).jpg"])
            }
        }
        try queue.close()
        let database = try workspace.database()
        try database.read { db in
            func instant(_ text: String) throws -> String { try SearchFilter.instant(text) }
            for (filter, parts) in [(SearchFilter(after: try instant("2023-03"), before: try instant("2023-04")), 2),
                                    (SearchFilter(after: try instant("2023-02-28"), before: try instant("2023-03-01")), 2),
                                    (SearchFilter(after: try instant("2024")), 2), (SearchFilter(before: try instant("2014")), 2),
                                    (SearchFilter(after: try instant("2023-05-31T23:00")), 2),
                                    (SearchFilter(after: try instant("2015"), before: try instant("2022")), 1),
                                    (SearchFilter(before: try instant("2021")), 1)] {
                let found = try PhotoSearcher.parts(filter, db)
                #expect(found.count == parts, "\(filter)")
                var ids: [Int64] = []
                for part in found { ids += try Int64.fetchAll(db, sql: "SELECT id \(part.sql)", arguments: part.arguments) }
                #expect(Set(ids).count == ids.count, "each photo once")
                var conditions = ["state = 'indexed'"], bounds: [String] = []
                if let after = filter.after { conditions.append("\(SearchFilter.date) >= ?"); bounds.append(after) }
                if let before = filter.before { conditions.append("\(SearchFilter.date) < ?"); bounds.append(before) }
                let rendered = try Int64.fetchAll(db, sql: "SELECT id FROM photos WHERE \(conditions.joined(separator: " AND "))",
                                                  arguments: StatementArguments(bounds))
                #expect(Set(ids) == Set(rendered), "\(filter)")
                #expect(!rendered.isEmpty || filter.before == "2014-01-01T00:00:00", "\(filter)")
                // SQLite's plan: the time index for a range, the table's own order for every row.
                let plan = try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT id \(found[0].sql)", arguments: found[0].arguments)
                    .map { $0["detail"] as String }
                #expect(plan.contains { $0.hasPrefix(parts == 2 ? "SEARCH photos USING INDEX photos_by_time" : "SCAN photos") }
                        && (parts == 2 || !plan.joined().contains("photos_by_time")), "\(filter): \(plan)")
            }
            // A filter every row is read for is read in the table's order,
            // not row by row through the time index (which holds the same rows).
            let names = try PhotoSearcher.parts(SearchFilter(names: ["20"]), db)
            let plan = try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT id \(names[0].sql)", arguments: names[0].arguments)
                .map { $0["detail"] as String }
            #expect(names.count == 1 && plan == ["SCAN photos"], "\(plan)")
        }
    }

    @Test("filters apply before ranking: dates (EXIF, else mtime) and folders")
    func filters() throws {
        let workspace = try Workspace()
        try workspace.copy("photos/coffee.heic", to: "phone/coffee.heic")              // EXIF: 2024-05-17 09:41
        let old = try workspace.copy("photos/rocket.jpg", to: "Été 2019/rocket.jpg")    // no EXIF date: mtime
        let cat = try workspace.copy("photos/chelsea.png", to: "Été 2019/cat.png")
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_561_000_000)], ofItemAtPath: old) // June 2019
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_700_000_000)], ofItemAtPath: cat)  // Nov 2023
        _ = try workspace.run()
        let searcher = try PhotoSearcher(database: try workspace.database())
        let query = Self.textModel.encode(texts: ["anything"])[0]
        func names(_ filter: SearchFilter) throws -> Set<String> {
            Set(try searcher.search(query, top: 10, filter: filter).map { ($0.path as NSString).lastPathComponent })
        }
        #expect(try names(SearchFilter(after: try SearchFilter.instant("2024"))) == ["coffee.heic"])
        #expect(try names(SearchFilter(before: try SearchFilter.instant("2024-05-17T09:41"))) == ["rocket.jpg", "cat.png"])
        #expect(try names(SearchFilter(after: try SearchFilter.instant("2019-01"), before: try SearchFilter.instant("2020"))) == ["rocket.jpg"])
        #expect(try names(SearchFilter(folder: workspace.photos + "/Été 2019")) == ["rocket.jpg", "cat.png"])
        // "Été" is a prefix of "Été 2019", not a folder holding photos: said, not an empty result.
        #expect(throws: PhotoIndexError.noPhotosInFolder(path: workspace.photos + "/Été")) {
            try names(SearchFilter(folder: workspace.photos + "/Été"))
        }
        // The top K all satisfy the filter even when better matches do not.
        #expect(try searcher.search(query, top: 1, filter: SearchFilter(folder: workspace.photos + "/phone")).map(\.path)
            == [workspace.photos + "/phone/coffee.heic"])
    }

    @Test("date arguments", arguments: [
        ("2024", "2024-01-01T00:00:00"), ("2024-06", "2024-06-01T00:00:00"), ("2024-06-15", "2024-06-15T00:00:00"),
        ("2024-06-15T08:30", "2024-06-15T08:30:00"), ("2024-06-15 08:30:05", "2024-06-15T08:30:05"),
    ])
    func dates(text: String, instant: String) throws {
        #expect(try SearchFilter.instant(text) == instant)
    }

    @Test("invalid dates are refused", arguments: ["yesterday", "2024-13", "2024-06-15T25:00", "24-06-15", "2023-02-29", "0000",
                                                   "٢٠٢٤", "2024-06-15T08:30:05Z", " 2024-06-15T08:30:05x", "2024-6-1"])
    func invalidDates(text: String) {
        #expect(throws: PhotoIndexError.invalidDate(text)) { try SearchFilter.instant(text) }
    }

    @Test("the int8 first pass with float32 rescoring finds the exact top 10")
    func quantisedRecall() throws {
        // 10 000 random unit vectors straight into the database (enough for
        // the scan to be split across cores).
        let workspace = try Workspace()
        let database = try workspace.database()
        var generator = SplitMix64(seed: 7)
        let dimension = 64
        func randomUnit() -> [Float] {
            VectorMath.normalized((0..<dimension).map { _ in Float(generator.normal()) })
        }
        var vectors: [[Float]] = []
        try database.write { db in
            try db.execute(sql: "INSERT INTO models (name, embedding_size, checksum, created_at) VALUES ('synthetic', ?, 'x', 'now')",
                           arguments: [dimension])
            for index in 0..<10_000 {
                let vector = randomUnit()
                vectors.append(vector)
                try db.execute(sql: "INSERT INTO photos (path, size, modified_at, state, updated_at) VALUES (?, 0, 0, 'indexed', 'now')",
                               arguments: ["/synthetic/\(index)"])
                try db.execute(sql: "INSERT INTO embeddings (photo_id, model_id, vector) VALUES (?, 1, ?)",
                               arguments: [db.lastInsertedRowID, VectorBlob.data(vector)])
            }
        }
        let searcher = try PhotoSearcher(database: database)
        var found = 0
        for _ in 0..<40 {
            let query = randomUnit()
            var scores = [(Int, Float)]()
            scores.reserveCapacity(vectors.count)
            for (index, vector) in vectors.enumerated() {
                var dot: Float = 0
                for k in 0..<dimension { dot += query[k] * vector[k] }
                scores.append((index, dot))
            }
            let exact = scores.sorted { $0.1 > $1.1 }.prefix(10).map { "/synthetic/\($0.0)" }
            let results = try searcher.search(query, top: 10).map(\.path)
            found += Set(results).intersection(exact).count
        }
        #expect(found == 400)   // recall@10 = 1.0
    }

    @Test("an empty index is reported as such")
    func emptyIndex() throws {
        let workspace = try Workspace()
        try workspace.add("broken.jpg", Array("not a photo".utf8))
        _ = try workspace.run()
        #expect(throws: PhotoIndexError.emptyIndex(path: workspace.databasePath)) {
            try PhotoSearcher(database: try workspace.database())
        }
    }

    @Test("another model is refused")
    func otherModel() throws {
        let workspace = try indexedFixtures()
        let searcher = try PhotoSearcher(database: try workspace.database())
        // Same embedding size, other weights: the checksum tells them apart.
        let twin = try Fixture.identity(Fixture.model, path: Fixture.path("models/oc-vit-quickgelu-p8"))
        let index = try Fixture.identity()
        #expect(throws: PhotoIndexError.modelMismatch(index: "oc-vit-gelu-p16 (\(index.checksum))",
                                                      given: "oc-vit-quickgelu-p8 (\(twin.checksum))")) {
            try searcher.verify(twin)
        }
        try searcher.verify(index)
    }

    @Test("similar photos and duplicate groups")
    func similarAndDuplicates() throws {
        let workspace = try indexedFixtures()
        try workspace.copy("photos/chelsea-64.png", to: "small/cat.png")
        try workspace.copy("photos/rocket.jpg", to: "copy/rocket.jpg")
        _ = try workspace.run()
        let searcher = try PhotoSearcher(database: try workspace.database())
        let (id, vector) = try #require(try searcher.storedVector(path: workspace.photos + "/chelsea.png"))
        let similar = try searcher.search(vector, top: 3, excluding: [id])
        #expect(!similar.contains { $0.photoID == id })
        #expect(similar.map { ($0.path as NSString).lastPathComponent }.prefix(2).sorted() == ["cat.png", "chelsea.webp"])
        let groups = try DuplicateFinder(searcher: searcher).groups(threshold: 0.99)
        #expect(groups.contains { $0.paths == [workspace.photos + "/copy/rocket.jpg", workspace.photos + "/rocket.jpg"] && $0.similarity > 0.9999 })
        #expect(groups.contains { Set($0.paths) == [workspace.photos + "/chelsea.png", workspace.photos + "/chelsea.webp"] })
        #expect(!groups.contains { $0.paths.contains(workspace.photos + "/camera.png") })
    }

    @Test("top K is K photos with copies shown once, copies in the vector file or added since, however many each has")
    func topWithCopies() throws {
        let workspace = try Workspace()
        // Forty photos of different (random, seeded) pixels: different embeddings.
        var generator = SplitMix64(seed: 7)
        for index in 0..<40 {
            let pixels = (0..<(48 * 48 * 3)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            try workspace.add("photos/\(index).jpg", try Thumbnail.jpeg(Bitmap(width: 48, height: 48, layout: .rgb, pixels: pixels)))
        }
        _ = try workspace.run()
        let query = Self.textModel.encode(texts: ["a cup of coffee"])[0]
        _ = try PhotoSearcher(database: try workspace.database()).search(query, top: 3)   // writes the vector file
        // Five byte-identical copies of each photo: added since the file was written.
        for index in 0..<40 {
            for copy in 0..<5 { try FileManager.default.copyItem(atPath: workspace.photos + "/photos/\(index).jpg",
                                                                 toPath: workspace.photos + "/photos/\(index)-\(copy).jpg") }
        }
        #expect(try workspace.run().added == 200)
        // The best-ranked file of each content, in order.
        let contents = Dictionary(uniqueKeysWithValues: try workspace.database().read { db in
            try Row.fetchAll(db, sql: "SELECT path, content_hash || '/' || size AS content FROM photos")
        }.map { ($0["path"] as String, $0["content"] as String) })
        var seen = Set<String>()
        let expected = try bruteForce(workspace, query).map(\.0).filter { seen.insert(contents[$0]!).inserted }
        #expect(expected.count == 40)
        for rebuilt in [false, true] {
            if rebuilt { try FileManager.default.removeItem(atPath: workspace.databasePath + ".vectors") }
            let searcher = try PhotoSearcher(database: try workspace.database())
            for top in [1, 8, 25, 40, 50] {
                let hits = try searcher.search(query, top: top)
                #expect(hits.map(\.path) == Array(expected.prefix(top)), "top \(top), vector file \(rebuilt ? "rebuilt" : "before the copies")")
                #expect(hits.allSatisfy { $0.copies.count == 5 })
            }
            #expect(try searcher.currentMatrix().rows == (rebuilt ? 240 : 40))
        }
    }

    @Test("a damaged vector row (NULL, empty, short, text) is left out of searches, never trapped on", arguments: ["NULL", "x''", "x'0011'", "'text'"])
    func damagedVectorRow(value: String) throws {
        let workspace = try indexedFixtures()
        let victim = workspace.photos + "/rocket.jpg"
        // As a damaged file can hold it: NULL too, in a NOT NULL column.
        try workspace.database().write { db in
            try db.execute(sql: "PRAGMA writable_schema = ON")
            try db.execute(sql: "UPDATE sqlite_master SET sql = replace(sql, 'vector BLOB NOT NULL', 'vector BLOB') WHERE name = 'embeddings'")
        }
        try workspace.database().write { db in
            try db.execute(sql: "UPDATE embeddings SET vector = \(value) WHERE photo_id = (SELECT id FROM photos WHERE path = ?)",
                           arguments: [victim])
        }
        let searcher = try PhotoSearcher(database: try workspace.database())
        let hits = try searcher.search(Self.textModel.encode(texts: ["a rocket"])[0], top: 20)
        #expect(hits.count == 9 && !hits.contains { $0.path == victim })
        // Not a query vector either (similar to it decodes the file instead).
        #expect(try searcher.storedVector(path: victim)?.photoID == nil)
        #expect(try searcher.storedVector(path: workspace.photos + "/camera.png")?.vector.count == 32)
    }

    @Test("a vector file with flipped bytes is not trusted: it is rebuilt, and rankings stay exact")
    func tamperedVectorFile() throws {
        let workspace = try indexedFixtures()
        let query = Self.textModel.encode(texts: ["a cup of coffee"])[0]
        _ = try PhotoSearcher(database: try workspace.database()).search(query, top: 3)   // writes the file
        let path = workspace.databasePath + ".vectors"
        // Written and checked by this process: noted as verified, so that the
        // next search does not read all of it again.
        #expect(VerificationStamp.isCurrent(path: path, status: try #require(FilePaths.status(path))))
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let model = try #require(try workspace.database().currentModel())
        #expect(VectorMatrix(path: path, modelChecksum: model.checksum, dimension: 32) != nil)
        // Flip bits in the 4-bit rows, as a failing disk might.
        for offset in stride(from: bytes.count - 100, to: bytes.count, by: 7) { bytes[offset] ^= 0x5A }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(VectorMatrix(path: path, modelChecksum: model.checksum, dimension: 32) == nil)
        let results = try PhotoSearcher(database: try workspace.database()).search(query, top: 10)
        #expect(results.map(\.path) == (try bruteForce(workspace, query)).map(\.0))
        #expect(VectorMatrix(path: path, modelChecksum: model.checksum, dimension: 32) != nil)   // written again
    }

    /// Copies the index at `source` (its WAL's content too) to `target`,
    /// replacing the index there but not its vector file.
    func copyIndex(_ source: String, over target: String) throws {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: target + suffix) }
        try DatabaseQueue(path: source).backup(to: try DatabaseQueue(path: target))
    }

    @Test("a vector file is trusted only at a state of its own index: another index's, or one written after the state a restored backup holds, is rebuilt")
    func vectorFileOfAnotherState() throws {
        let query = Self.textModel.encode(texts: ["a cat on a sofa"])[0]
        // A backup, then a photo re-embedded (another id) and the vector file
        // written at that state; then the backup restored.
        let workspace = try indexedFixtures()
        let backup = workspace.root.appendingPathComponent("backup.sqlite").path
        try copyIndex(workspace.databasePath, over: backup)
        _ = try workspace.add("chelsea.png", try Fixture.uniqueJPEG("photos/rocket.jpg", tag: "after the backup"))
        touch(workspace.photos + "/chelsea.png", secondsAgo: 20)
        _ = try workspace.run()
        _ = try PhotoSearcher(database: try workspace.database()).search(query, top: 3)
        try copyIndex(backup, over: workspace.databasePath)
        // (Before, the file was trusted by its model: chelsea.png's embedding
        // in the backup was gone from it, and its id below the file's highest.)
        let restored = try PhotoSearcher(database: try workspace.database()).search(query, top: 20)
        #expect(restored.map(\.path) == (try bruteForce(workspace, query)).map(\.0))
        #expect(restored.count == 10)

        // Another index with the same model put in this one's place (mv
        // B.sqlite A.sqlite): the same photos, indexed in another order, so
        // that its embedding ids are this one's, for other photos.
        let other = try Workspace()
        let names = ["chelsea.png", "rocket.jpg", "coffee-portrait.jpg", "astronaut-progressive.jpg", "camera.png",
                     "chelsea.webp", "coffee.heic", "chelsea-alpha.png", "astronaut-64.png", "coffee-64.png"]
        for (index, name) in names.enumerated() { try other.copy("photos/\(name)", to: "\(9 - index)-\(name)") }
        _ = try other.run()
        _ = try PhotoSearcher(database: try workspace.database()).search(query, top: 3)   // this one's file, current
        try copyIndex(other.databasePath, over: workspace.databasePath)
        let replaced = try PhotoSearcher(database: try workspace.database()).search(query, top: 20)
        let truth = try bruteForce(workspace, query)
        #expect(replaced.map(\.path) == truth.map(\.0))
        #expect(zip(replaced, truth).allSatisfy { abs($0.score - $1.1) < 1e-5 }, "\(replaced.map(\.score)) \(truth.map(\.1))")
        #expect(replaced.count == 10 && replaced.allSatisfy { $0.path.hasPrefix(other.photos + "/") })
        // Its own file again at its own state: trusted, not rebuilt.
        let path = VectorMatrix.path(forIndex: workspace.databasePath)
        let written = try #require(FilePaths.status(path))
        _ = try PhotoSearcher(database: try workspace.database()).search(query, top: 3)
        #expect(FilePaths.status(path)?.st_ino == written.st_ino)
    }

    @Test("temporary vector files left by a killed process are removed; a live one's are kept")
    func staleTemporaryFiles() throws {
        let workspace = try indexedFixtures()
        let vectors = workspace.databasePath + ".vectors"
        let dead = vectors + ".2147483646-7.tmp", live = vectors + ".1-7.tmp"   // no such pid; init's pid
        for path in [dead, live] { _ = FileManager.default.createFile(atPath: path, contents: Data([1, 2, 3])) }
        unlink(vectors)
        _ = try PhotoSearcher(database: try workspace.database()).search([Float](repeating: 1, count: 32), top: 1)
        #expect(!FileManager.default.fileExists(atPath: dead))
        #expect(FileManager.default.fileExists(atPath: live))
        #expect(FileManager.default.fileExists(atPath: vectors))
    }

    @Test("a text asked again (another page, other filters, or written alike) is not encoded again, and scores the same")
    func textsAreRemembered() throws {
        let workspace = try indexedFixtures()
        let library = PhotoLibrary(database: workspace.databasePath, model: Fixture.modelPath)
        func scores(_ text: String, _ options: PhotoLibrary.SearchOptions) throws -> [String: Float] {
            Dictionary(uniqueKeysWithValues: try library.search(try SearchQuery.parse(text), options).map { ($0.path, $0.score) })
        }
        let first = try scores("a cat", .init(top: 4))
        #expect(library.models!.textEncodings == (1, 1))
        var second = PhotoLibrary.SearchOptions(top: 4)
        second.offset = 4
        let page = try scores("a cat", second)
        #expect(Set(page.keys).isDisjoint(with: first.keys) && page.count == 4)
        // CLIP's tokenizer lower-cases and trims: the same tokens, the same entry.
        #expect(try scores("  A CAT ", .init(top: 4)) == first)
        #expect(try scores("a cat", .init(top: 10, filter: SearchFilter(folder: workspace.photos))).count == 10)
        #expect(library.models!.textEncodings == (1, 1))
        // A query of two texts encodes only the one not seen.
        _ = try scores("a cat + a rocket launch", .init(top: 4))
        #expect(library.models!.textEncodings == (2, 2))
        _ = try scores("a rocket launch", .init(top: 4))
        #expect(library.models!.textEncodings == (2, 2))
        // A remembered vector is the one a fresh process makes.
        let fresh = PhotoLibrary(database: workspace.databasePath, model: Fixture.modelPath)
        #expect(Dictionary(uniqueKeysWithValues: try fresh.search(try SearchQuery.parse("a cat"), .init(top: 4)).map { ($0.path, $0.score) })
            == first)
    }

    @Test("remembered text embeddings: the least recently used goes first past the limit; a vector that is not finite is not kept")
    func recentTextEmbeddings() {
        var recent = RecentTextEmbeddings(capacity: 2)
        let a = RecentTextEmbeddings.Key(precision: .int8, tokens: [1, 2]), b = RecentTextEmbeddings.Key(precision: .int8, tokens: [3])
        let c = RecentTextEmbeddings.Key(precision: .int8, tokens: [4]), a32 = RecentTextEmbeddings.Key(precision: .fp32, tokens: [1, 2])
        recent.remember([1], for: a)
        recent.remember([2], for: b)
        #expect(recent.vector(for: a) == [1])
        recent.remember([3], for: c)
        #expect(recent.vector(for: b) == nil && recent.vector(for: a) == [1] && recent.vector(for: c) == [3])
        #expect(recent.vector(for: a32) == nil)
        recent.remember([.nan], for: a32)
        #expect(recent.vector(for: a32) == nil && recent.count == 2 && recent.encoded == 4)
        // Remembering a key again replaces its vector and forgets nothing else.
        recent.remember([5], for: c)
        #expect(recent.vector(for: c) == [5] && recent.vector(for: a) == [1])
    }

    @Test("the count of photos a search can find leaves out failed ones, with or without filters, in an index made before v7 too (unchanged by searching)")
    func countLeavesOutFailedPhotos() throws {
        let workspace = try indexedFixtures()
        try workspace.add("sub/broken.jpg", [0xFF, 0xD8, 0xFF, 0xE0, 0, 16] + [UInt8](repeating: 7, count: 64))
        try workspace.add("sub/empty.png", [])
        try workspace.copy("photos/rocket.jpg", to: "sub/rocket.jpg")
        _ = try workspace.run()
        let library = PhotoLibrary(database: workspace.databasePath, model: Fixture.modelPath)
        #expect(try workspace.count("SELECT COUNT(*) FROM photos WHERE state = 'failed'") == 2)
        #expect(try library.count() == 11)
        #expect(try library.count(SearchQuery(parts: []), .init(filter: SearchFilter(folder: workspace.photos + "/sub"))) == 1)
        // similar's total: its photo left out only when the filters let it through.
        let sub = SearchFilter(folder: workspace.photos + "/sub")
        let rocket = try #require(try workspace.photo(workspace.photos + "/sub/rocket.jpg")?.id)
        let cat = try #require(try workspace.photo(workspace.photos + "/chelsea.png")?.id)
        #expect(try library.count(excluding: rocket) == 10)
        #expect(try library.count(SearchQuery(parts: []), .init(filter: sub), excluding: rocket) == 0)
        #expect(try library.count(SearchQuery(parts: []), .init(filter: sub), excluding: cat) == 1)
        // An index from before v7 is searched and counted (row by row) as it
        // is, on a medium nobody may write to too; its next index run adds
        // the index.
        try workspace.database().write { db in
            try db.execute(sql: "DROP INDEX photos_failed; DELETE FROM grdb_migrations WHERE identifier = 'v7: failed photos listed apart'")
        }
        let before = PhotoLibrary(database: workspace.databasePath, model: Fixture.modelPath)
        #expect(try before.count() == 11)
        #expect(try before.search(try SearchQuery.parse("a cat"), .init(top: 20)).count == 10)   // the two rocket.jpg are one result
        // (Read without the index's own opening, which would upgrade it.)
        #expect(try DatabaseQueue(path: workspace.databasePath).read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sqlite_master WHERE name = 'photos_failed'")
        } == 0)
        _ = try workspace.run()
        #expect(try workspace.count("SELECT COUNT(*) FROM sqlite_master WHERE name = 'photos_failed'") == 1)
        #expect(try PhotoLibrary(database: workspace.databasePath, model: Fixture.modelPath).count() == 11)
    }

    @Test("a page's total, counted from the set a filtered search ranked, is count's for every kind of filter; similar's leaves its photo out only when let through")
    func pageTotalsAreCounts() throws {
        let workspace = try indexedFixtures()
        for name in ["lisbon.jpg", "porto.jpg", "tokyo.jpg"] { try workspace.copy("photos/places/" + name, to: "sub/" + name) }
        try workspace.add("sub/broken.jpg", [0xFF, 0xD8, 0xFF, 0xE0, 0, 16] + [UInt8](repeating: 7, count: 64))
        _ = try workspace.run()
        let library = PhotoLibrary(database: workspace.databasePath, model: Fixture.modelPath)
        let lisbon = try #require(try workspace.photo(workspace.photos + "/sub/lisbon.jpg")?.id)
        let cat = try #require(try workspace.photo(workspace.photos + "/chelsea.png")?.id)
        let filters: [SearchFilter] = [
            SearchFilter(), SearchFilter(folder: workspace.photos + "/sub"), SearchFilter(names: ["chelsea*"]),
            SearchFilter(names: ["o"]), SearchFilter(after: "2000"), SearchFilter(before: "2000"),
            SearchFilter(places: ["Lisbon", "Tokyo"]), SearchFilter(near: try SearchFilter.Circle(latitude: 38.7, longitude: -9.1, radiusKilometres: 400)),
            SearchFilter(folder: workspace.photos + "/sub", names: ["*.jpg"], cameras: ["nothing"]),
        ]
        var totals: [Int] = []
        for filter in filters {
            let options = PhotoLibrary.SearchOptions(top: 3, filter: filter)
            let page = try library.searchPage(try SearchQuery.parse("a cat"), options)
            #expect(page.total == (try library.count(SearchQuery(parts: []), options)), "\(filter)")
            #expect(page.hits.map(\.path) == (try library.search(try SearchQuery.parse("a cat"), options)).map(\.path))
            for id in [lisbon, cat] {
                let similar = try library.similarPage(toPhoto: id, options)
                #expect(similar.total == (try library.count(SearchQuery(parts: []), options, excluding: id)), "\(filter) \(id)")
                #expect(similar.hits.map(\.path) == (try library.similar(toPhoto: id, options)).map(\.path))
            }
            let image = try library.searchPage(image: Array(try Data(contentsOf: URL(fileURLWithPath: FixtureFiles.path("photos/rocket.jpg")))), options)
            #expect(image.total == page.total)
            totals.append(page.total)
        }
        // Each kind of filter was tested on a count it changes (the broken file is never counted).
        #expect(totals == [13, 3, 3, 9, 13, 0, 2, 2, 0], "\(totals)")
    }

    @Test("name: finds a file named composed or decomposed, typed either way, capitals, brackets and compatibility characters included")
    func nameForms() throws {
        let workspace = try Workspace()
        try workspace.copy("photos/chelsea.png", to: "E\u{301}lodie.png")                  // decomposed, as macOS names files
        try workspace.copy("photos/camera.png", to: "s\u{E3}o.png")                        // composed
        try workspace.copy("photos/rocket.jpg", to: "apple.jpg")
        try workspace.copy("photos/coffee-64.png", to: "\u{212B}ngstr\u{F6}m.png")         // the Ångström sign, which both forms replace
        _ = try workspace.run()
        let library = PhotoLibrary(database: workspace.databasePath, model: Fixture.modelPath)
        func names(_ filter: String) throws -> [String] {
            try library.search(try SearchQuery.parse("a photo " + filter, fileExists: { _ in false }), .init(top: 10))
                .map { String(($0.path as NSString).lastPathComponent.unicodeScalars.map { $0.escaped(asASCII: true) }.joined()) }
        }
        let elodie = #"E\u{0301}lodie.png"#, sao = #"s\u{00E3}o.png"#, angstrom = #"\u{212B}ngstr\u{00F6}m.png"#
        #expect(try names("name:\u{C9}lodie") == [elodie])           // typed composed, with a capital
        #expect(try names("name:E\u{301}LODIE") == [elodie])
        #expect(try names("name:sa\u{303}o") == [sao])
        #expect(try names("name:S\u{E3}O.png") == [sao])
        #expect(try names("name:s[\u{E3}]o*") == [sao])
        #expect(try names("name:[\u{E3}]*") == [])                     // not "[a" + U+0303 + "]": no "apple.jpg"
        #expect(try names("name:\u{212B}ngstr") == [angstrom])        // as typed
        #expect(try names("name:\u{C5}ngstr") == [])                  // Å is another letter to a file system
    }
}
