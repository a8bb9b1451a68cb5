import CLIP
import Dispatch
import Foundation
import Synchronization
import Testing
import TestSupport
@testable import PhotoIndex

@Suite("The PhotoLibrary façade")
struct PhotoLibraryTests {
    /// The fixture photos indexed through the façade.
    func indexedLibrary() throws -> (Workspace, PhotoLibrary) {
        let workspace = try Workspace()
        for name in ["chelsea.png", "rocket.jpg", "coffee-portrait.jpg", "astronaut-progressive.jpg", "camera.png",
                     "chelsea.webp", "coffee.heic", "chelsea-alpha.png", "astronaut-64.png", "coffee-64.png"] {
            try workspace.copy("photos/\(name)", to: name)
        }
        let library = PhotoLibrary(database: workspace.databasePath, model: Fixture.modelPath)
        var options = IndexingOptions(roots: [workspace.photos])
        options.batchSize = 4
        #expect(try library.index(options).added == 10)
        return (workspace, library)
    }

    @Test("8 threads × 25 searches at once give exactly the results of one thread, while the vector file is being written")
    func concurrentSearches() throws {
        let (workspace, library) = try indexedLibrary()
        let queries = ["a cat", "a rocket launch", "coffee", "an astronaut", "a camera", "\"cat\" - \"coffee\"",
                       "2:rocket + astronaut"].map { try! SearchQuery.parse($0) }
        let expected = try queries.map { try library.search($0, .init(top: 5)) }
        let similar = try library.similar(to: workspace.photos + "/rocket.jpg", .init(top: 3))
        // A fresh library over the same index, its vector file gone: the first
        // searches all want it written at once.
        unlink(workspace.databasePath + ".vectors")
        let fresh = PhotoLibrary(database: workspace.databasePath, model: Fixture.modelPath)
        let example = workspace.photos + "/rocket.jpg"
        let mismatches = Mutex(0), failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { client in
            for round in 0..<25 {
                let index = (client + round) % (queries.count + 1)
                do {
                    if index == queries.count {
                        if try fresh.similar(to: example, .init(top: 3)) != similar { mismatches.withLock { $0 += 1 } }
                    } else if try fresh.search(queries[index], .init(top: 5)) != expected[index] {
                        mismatches.withLock { $0 += 1 }
                    }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 } == [])
        #expect(mismatches.withLock { $0 } == 0)
        #expect(FileManager.default.fileExists(atPath: workspace.databasePath + ".vectors"))
    }

    @Test("an index run leaves its write-ahead log empty: the next process does not read it whole to open the index")
    func walCheckpointedAfterIndexing() throws {
        let (workspace, library) = try indexedLibrary()
        let wal = workspace.databasePath + "-wal"
        #expect(FileManager.default.fileExists(atPath: wal))   // still open here, so not removed
        #expect(try FileManager.default.attributesOfItem(atPath: wal)[.size] as? Int == 0)
        #expect(try library.search(SearchQuery.parse("a cat"), .init(top: 3)).count == 3)
    }

    @Test("the languages a model answers, by family: CLIP English, Chinese-CLIP Chinese and English, SigLIP 2 many, SigLIP English",
          arguments: [("oc-vit-gelu-p16", "english"), ("cn-clip-vit-p8", "chinese-english"), ("siglip2-p8", "multilingual"),
                      ("oc-siglip2-p8", "multilingual"), ("siglip-p8", "english")])
    func queryLanguages(model: String, languages: String) throws {
        let workspace = try Workspace()
        #expect(FileManager.default.createFile(atPath: workspace.photos + "/cat.png", contents: Data(try Fixture.bytes("photos/chelsea-64.png"))))
        let library = PhotoLibrary(database: workspace.databasePath, model: Fixture.path("models/" + model))
        #expect(try library.queryLanguages() == nil, "no index yet")
        _ = try library.index(IndexingOptions(roots: [workspace.photos]))
        #expect(try library.queryLanguages() == languages)
        #expect(try PhotoLibrary(database: workspace.databasePath, model: nil).queryLanguages() == nil)
    }

    @Test("without a model: text searches say so first, searches by an indexed photo, duplicates and status work")
    func withoutModel() throws {
        let (workspace, _) = try indexedLibrary()
        #expect(throws: PhotoIndexError.noModel) {
            try PhotoLibrary(database: "/nonexistent/index.sqlite", model: nil).search(try SearchQuery.parse("a cat"))
        }
        let library = PhotoLibrary(database: workspace.databasePath, model: nil)
        let hits = try library.similar(to: workspace.photos + "/chelsea.png", .init(top: 2))
        #expect(hits.count == 2 && !hits.contains { $0.path.hasSuffix("/chelsea.png") })
        #expect(try library.status().indexed == 10)
        #expect(try !library.duplicates(threshold: 0.99).isEmpty)
        // A photo that is not indexed needs the image tower.
        let outside = try TemporaryDirectory()
        let path = try outside.write("cat.png", try Fixture.bytes("photos/chelsea-64.png"))
        #expect(throws: PhotoIndexError.noModel) { try library.similar(to: path) }
    }

    @Test("indexing with no model, or a broken one, fails before any index file exists")
    func noIndexWithoutModel() throws {
        let workspace = try Workspace()
        try workspace.copy("photos/chelsea.png", to: "cat.png")
        #expect(throws: PhotoIndexError.noModel) {
            try PhotoLibrary(database: workspace.databasePath, model: nil).index(IndexingOptions(roots: [workspace.photos]))
        }
        #expect(throws: PhotoIndexError.model(.modelDirectoryNotFound(path: "/nonexistent/model"))) {
            try PhotoLibrary(database: workspace.databasePath, model: "/nonexistent/model").index(IndexingOptions(roots: [workspace.photos]))
        }
        #expect(!FileManager.default.fileExists(atPath: workspace.databasePath))
    }

    @Test("a model whose text tower is broken is refused for indexing: its index could not be searched")
    func brokenTextTower() throws {
        let model = try TemporaryDirectory()
        let source = Fixture.path("models/hf-vit-quickgelu-p8")
        for file in try FileManager.default.contentsOfDirectory(atPath: source) {
            try FileManager.default.copyItem(atPath: source + "/" + file, toPath: model.file(file))
        }
        try Data().write(to: URL(fileURLWithPath: model.file("merges.txt")))
        let workspace = try Workspace()
        try workspace.copy("photos/chelsea.png", to: "cat.png")
        let library = PhotoLibrary(database: workspace.databasePath, model: model.path)
        #expect(throws: PhotoIndexError.model(.invalidVocabulary(
            path: model.file("merges.txt"), reason: "0 merge rules where CLIP's tokenizer has 48894; is the file cut short or not a merges file?"))) {
            try library.index(IndexingOptions(roots: [workspace.photos]))
        }
        #expect(!FileManager.default.fileExists(atPath: workspace.databasePath))
    }

    @Test("indexRepeatedly reports a busy index and goes on, stops when cancelled, and throws what no run can fix")
    func repeatedRuns() throws {
        let (workspace, library) = try indexedLibrary()
        var events: [String] = []
        do {
            let holder = try WriterLock(indexPath: workspace.databasePath)   // another writer
            let cancellation = CancellationFlag()
            try library.indexRepeatedly(IndexingOptions(roots: [workspace.photos]), every: 3600, cancellation: cancellation) { event in
                if case let .runFailed(error) = event {
                    events.append(error.localizedDescription)
                    cancellation.cancel()       // instead of waiting an hour
                }
            }
            withExtendedLifetime(holder) {}
        }
        #expect(events == [PhotoIndexError.writerBusy(path: workspace.databasePath, holder: "process \(getpid())").localizedDescription])

        // The lock is free again; a model of another size can never index here.
        let other = PhotoLibrary(database: workspace.databasePath, model: Fixture.path("models/hf-vit-quickgelu-p8"))
        let never = CancellationFlag()
        #expect(throws: PhotoIndexError.embeddingSizeMismatch(index: 32, given: 24, indexModel: "oc-vit-gelu-p16")) {
            try other.indexRepeatedly(IndexingOptions(roots: [workspace.photos]), every: 3600, cancellation: never) { event in
                if case .runFailed = event { never.cancel() }     // a test bug, not an hour's wait
            }
        }
    }

    @Test("a library that outlives its index file follows the path: a file replaced (a backup restored) is searched, a deleted one is made again by the next run, not written into unlinked")
    func followsThePath() throws {
        let (workspace, library) = try indexedLibrary()
        let query = try SearchQuery.parse("a cat")
        #expect(try library.search(query, .init(top: 20)).count == 10)

        // Another index (two photos) moved over this one, as a restore does.
        let other = try Workspace()
        try other.copy("photos/rocket.jpg", to: "rocket.jpg")
        try other.copy("photos/camera.png", to: "camera.png")
        _ = try PhotoLibrary(database: other.databasePath, model: Fixture.modelPath).index(IndexingOptions(roots: [other.photos]))
        #expect(rename(other.databasePath, workspace.databasePath) == 0)
        let restored = try library.search(query, .init(top: 20))
        #expect(Set(restored.map(\.path)) == [other.photos + "/rocket.jpg", other.photos + "/camera.png"])

        // Deleted between runs: the next run makes it again, on disk.
        for suffix in ["", "-wal", "-shm", ".vectors"] { unlink(workspace.databasePath + suffix) }
        let cancellation = CancellationFlag()
        var added: [Int] = []
        try library.indexRepeatedly(IndexingOptions(roots: [workspace.photos]), every: 3600, cancellation: cancellation) { event in
            if case let .finished(summary) = event {
                added.append(summary.added)
                cancellation.cancel()
            }
        }
        #expect(added == [10])
        // Neither file it replaced is held open any more (their space freed).
        let held = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").compactMap {
            try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0)
        }
        #expect(!held.contains { $0.hasPrefix(workspace.databasePath) && $0.hasSuffix("(deleted)") }, "\(held.filter { $0.contains("(deleted)") })")
        let status = try PhotoLibrary(database: workspace.databasePath, model: Fixture.modelPath).status()
        #expect(status.indexed == 10)
        #expect(try library.search(query, .init(top: 20)).count == 10)
    }

    @Test("indexRepeatedly opens the index again for each run: a backup copied over the file between runs is written to whole, not mixed with the last run's cached pages")
    func restoredInPlaceBetweenRuns() throws {
        let (workspace, library) = try indexedLibrary()
        let backup = try Workspace()
        try backup.copy("photos/rocket.jpg", to: "rocket.jpg")
        _ = try PhotoLibrary(database: backup.databasePath, model: Fixture.modelPath).index(IndexingOptions(roots: [backup.photos]))

        // Each run its own connections.
        let cancellation = CancellationFlag()
        var opened: [ObjectIdentifier] = []
        try library.indexRepeatedly(IndexingOptions(roots: [workspace.photos]), every: 1, cancellation: cancellation) { event in
            guard case .scanned = event else { return }
            opened.append(ObjectIdentifier(try! library.database(create: false)))
            if opened.count == 2 { cancellation.cancel() }
        }
        #expect(opened.count == 2 && opened[0] != opened[1])

        // What the service does between runs, and the copy (in place: same inode, as cp does).
        library.closeIndex()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: backup.databasePath))
        let descriptor = open(workspace.databasePath, O_WRONLY | O_TRUNC)
        #expect(bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) } == bytes.count)
        close(descriptor)
        let summary = try library.index(IndexingOptions(roots: [workspace.photos]))
        #expect(summary.added == 10)
        let check = try IndexDatabase(path: workspace.databasePath, create: false).read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
        #expect(check == ["ok"])
        #expect(try library.status().indexed == 11, "the backup's photo and the folder's")
    }

    @Test("a search by vector checks its dimension")
    func vectorDimension() throws {
        let (workspace, library) = try indexedLibrary()
        #expect(throws: PhotoIndexError.embeddingSizeMismatch(index: 32, given: 3, indexModel: "oc-vit-gelu-p16")) { try library.search(vector: [1, 0, 0]) }
        let hits = try library.search(vector: [Float](repeating: 1, count: 32), .init(top: 4))
        #expect(hits.count == 4 && hits.map(\.score) == hits.map(\.score).sorted(by: >))
        withExtendedLifetime(workspace) {}
    }
}
