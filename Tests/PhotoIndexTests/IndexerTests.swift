import CLIP
import Compute
import Foundation
import GRDB
import Imaging
import Testing
@testable import PhotoIndex

@Suite("Indexing a folder")
struct IndexerTests {
    func standardFolder() throws -> Workspace {
        let workspace = try Workspace()
        try workspace.copy("photos/chelsea.png", to: "chelsea.png")
        try workspace.copy("photos/rocket.jpg", to: "trips/rocket.JPG")
        try workspace.copy("photos/coffee-portrait.jpg", to: "trips/2024/coffee.jpeg")
        try workspace.copy("photos/chelsea.webp", to: "cat.webp")
        try workspace.copy("photos/coffee.heic", to: "phone/coffee.HEIC")
        try workspace.copy("photos/chelsea-64.png", to: "small/chelsea-64.png")
        return workspace
    }

    @Test("the first run embeds every photo, with its metadata")
    func firstRun() throws {
        let workspace = try standardFolder()
        let summary = try workspace.run()
        #expect(summary.scanned == 6 && summary.added == 6 && summary.failed == 0 && summary.unchanged == 0)
        #expect(try workspace.count("SELECT COUNT(*) FROM embeddings") == 6)
        let heic = try #require(try workspace.photo(workspace.photos + "/phone/coffee.HEIC"))
        #expect(heic.takenAt == "2024-05-17T09:41:00")
        #expect(heic.camera == "Apple iPhone 15")
        #expect(heic.width == 600 && heic.height == 400)
        // Vectors are stored L2-normalised, in float16; for a photo the model
        // sees unscaled they are the embedding, rounded to float16.
        let stored = try #require(try workspace.embedding(workspace.photos + "/small/chelsea-64.png"))
        let decoded = try ImageDecoder().decode(path: workspace.photos + "/small/chelsea-64.png").bitmap
        let expected = VectorMath.normalized(Fixture.model.encode(images: [decoded])[0])
        #expect(stored == expected.map { Float(Float16($0)) })
        #expect(cosine(stored, expected) >= 0.99999)
        #expect(try workspace.database().integrityCheck() == "ok")
    }

    @Test("a second run decodes nothing")
    func secondRun() throws {
        let workspace = try standardFolder()
        _ = try workspace.run()
        let summary = try workspace.run()
        #expect(summary.unchanged == 6 && summary.added == 0 && summary.updated == 0 && summary.moved == 0 && summary.removed == 0)
    }

    @Test("touching one file re-embeds exactly that one")
    func touchedFile() throws {
        let workspace = try standardFolder()
        _ = try workspace.run()
        touch(workspace.photos + "/cat.webp", secondsAgo: 60)
        let summary = try workspace.run()
        #expect(summary.updated == 1 && summary.unchanged == 5 && summary.added == 0)
    }

    @Test("a renamed or moved file keeps its embedding and is found under its new path")
    func renamedFile() throws {
        let workspace = try standardFolder()
        _ = try workspace.run()
        let before = try #require(try workspace.embedding(workspace.photos + "/trips/rocket.JPG"))
        try FileManager.default.createDirectory(atPath: workspace.photos + "/archive", withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: workspace.photos + "/trips/rocket.JPG", toPath: workspace.photos + "/archive/launch.jpg")
        let summary = try workspace.run()
        #expect(summary.moved == 1 && summary.added == 0 && summary.updated == 0 && summary.removed == 0)
        #expect(try workspace.photo(workspace.photos + "/trips/rocket.JPG") == nil)
        #expect(try workspace.embedding(workspace.photos + "/archive/launch.jpg") == before)
        #expect(try workspace.count("SELECT COUNT(*) FROM photos") == 6)
    }

    @Test("a copy reuses the original's embedding")
    func copiedFile() throws {
        let workspace = try standardFolder()
        _ = try workspace.run()
        try workspace.copy("photos/rocket.jpg", to: "copy of rocket.jpg")
        let summary = try workspace.run()
        #expect(summary.added == 1)
        #expect(try workspace.embedding(workspace.photos + "/copy of rocket.jpg") == (try workspace.embedding(workspace.photos + "/trips/rocket.JPG")))
    }

    @Test("a deleted file leaves the index")
    func deletedFile() throws {
        let workspace = try standardFolder()
        _ = try workspace.run()
        try FileManager.default.removeItem(atPath: workspace.photos + "/cat.webp")
        let summary = try workspace.run()
        #expect(summary.removed == 1 && summary.unchanged == 5)
        #expect(try workspace.photo(workspace.photos + "/cat.webp") == nil)
        #expect(try workspace.count("SELECT COUNT(*) FROM embeddings") == 5)
    }

    @Test("a changed file is re-embedded")
    func changedFile() throws {
        let workspace = try standardFolder()
        _ = try workspace.run()
        let path = workspace.photos + "/chelsea.png"
        let before = try workspace.embedding(path)
        try workspace.copy("photos/camera.png", to: "chelsea.png")
        touch(path, secondsAgo: 30)
        let summary = try workspace.run()
        #expect(summary.updated == 1)
        #expect(try workspace.embedding(path) != before)
    }

    /// Reference embeddings of JPEGs decoded at a reduced DCT scale by Pillow's
    /// draft mode (the same reduction the indexer picks), by file name.
    func draftReferences() throws -> [String: [Float]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixture.path("reference/oc-vit-gelu-p16.json")))
        let reference = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        var result: [String: [Float]] = [:]
        for item in reference["draft_images"] as! [[String: Any]] {
            result[((item["file"] as! String) as NSString).lastPathComponent] = (item["embedding"] as! [NSNumber]).map(\.floatValue)
        }
        return result
    }

    @Test("JPEGs decoded at a reduced DCT scale embed like Pillow's draft mode")
    func dctScaledDecoding() throws {
        let workspace = try Workspace()
        let references = try draftReferences()
        for name in references.keys { try workspace.copy("photos/\(name)", to: name) }
        _ = try workspace.run()
        for (name, reference) in references {
            #expect(cosine(try #require(try workspace.embedding(workspace.photos + "/" + name)), reference) >= 0.9999, "\(name)")
        }
    }

    @Test("EXIF orientation 6: embeds like the photo turned upright by Pillow's exif_transpose")
    func sidewaysPhoto() throws {
        let workspace = try Workspace()
        let path = try workspace.copy("photos/chelsea-orientation-6.jpg", to: "sideways.jpg")
        _ = try workspace.run()
        let photo = try #require(try workspace.photo(path))
        #expect(photo.width == 451 && photo.height == 300)
        let upright = try #require(try draftReferences()["chelsea-orientation-6.jpg"])
        let turned = try #require(try workspace.embedding(path))
        #expect(cosine(turned, upright) >= 0.999)
        // Without the turn the model would see another picture.
        let unturned = Fixture.model.encode(images: [
            try ImageDecoder(appliesOrientation: false).decode(path: path, minimumShortSide: 64).bitmap,
        ])[0]
        #expect(cosine(unturned, upright) < 0.99)
    }

    @Test("hidden folders, other extensions and excluded paths are skipped")
    func scanning() throws {
        let workspace = try Workspace()
        try workspace.copy("photos/rocket.jpg", to: "keep.jpg")
        try workspace.copy("photos/rocket.jpg", to: ".thumbnails/skip.jpg")
        try workspace.copy("photos/rocket.jpg", to: ".skip-hidden.jpg")
        try workspace.copy("photos/rocket.jpg", to: "notes.txt")
        try workspace.copy("photos/rocket.jpg", to: "Trash/skip.jpg")
        try workspace.copy("photos/rocket.jpg", to: "raw/skip.tmp.jpg")
        let summary = try workspace.run { $0.excludes = ["Trash", "*/raw/*.tmp.jpg"] }
        #expect(summary.scanned == 1)
        #expect(try workspace.photo(workspace.photos + "/keep.jpg") != nil)
    }

    @Test("symbolic link loops do not hang the scan")
    func symlinkLoop() throws {
        let workspace = try Workspace()
        try workspace.copy("photos/rocket.jpg", to: "a/rocket.jpg")
        try FileManager.default.createSymbolicLink(atPath: workspace.photos + "/a/loop", withDestinationPath: workspace.photos)
        try FileManager.default.createSymbolicLink(atPath: workspace.photos + "/a/self", withDestinationPath: ".")
        let summary = try workspace.run()
        #expect(summary.scanned == 1)
    }

    @Test("a folder reached through a link and in the tree itself is indexed under its own path, wherever the link sorts")
    func linkedAndOwnFolder() throws {
        let workspace = try Workspace()
        try workspace.copy("photos/rocket.jpg", to: "real/rocket.jpg")
        try workspace.copy("photos/camera.png", to: "z/deeper/camera.png")
        try FileManager.default.createSymbolicLink(atPath: workspace.photos + "/alias", withDestinationPath: "real")
        try FileManager.default.createSymbolicLink(atPath: workspace.photos + "/real/also", withDestinationPath: workspace.photos + "/z/deeper")
        // A link to a folder outside the tree is followed, and what it holds found there.
        try workspace.copy("photos/chelsea.png", to: "../outside/cat.png")
        try FileManager.default.createSymbolicLink(atPath: workspace.photos + "/a-link", withDestinationPath: workspace.root.path + "/outside")
        #expect(try workspace.run().scanned == 3)
        for path in ["/real/rocket.jpg", "/z/deeper/camera.png", "/a-link/cat.png"] {
            #expect(try workspace.photo(workspace.photos + path) != nil, "\(path)")
        }
    }

    @Test("a link to a folder that holds the root (its parent, /) is not followed: it would walk everything around the root")
    func linkToAncestor() throws {
        let workspace = try Workspace()
        try workspace.copy("photos/rocket.jpg", to: "a/rocket.jpg")
        // Beside the root, a photo only the link to the parent reaches.
        try FileManager.default.copyItem(atPath: Fixture.path("photos/camera.png"), toPath: workspace.root.path + "/beside.png")
        try FileManager.default.createSymbolicLink(atPath: workspace.photos + "/a/up", withDestinationPath: workspace.root.path)
        try FileManager.default.createSymbolicLink(atPath: workspace.photos + "/a/everything", withDestinationPath: "/")
        // A link elsewhere (not around the root) is followed.
        try FileManager.default.createDirectory(atPath: workspace.root.path + "/elsewhere", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Fixture.path("photos/chelsea.png"), toPath: workspace.root.path + "/elsewhere/cat.png")
        try FileManager.default.createSymbolicLink(atPath: workspace.photos + "/a/there", withDestinationPath: workspace.root.path + "/elsewhere")
        let summary = try workspace.run()
        #expect(summary.scanned == 2)
        #expect(try workspace.photo(workspace.photos + "/a/there/cat.png") != nil)
        // Roots that hold each other are both walked whole, in either order: an
        // ancestor of a root is skipped only when a link leads to it.
        try workspace.copy("photos/camera.png", to: "b/c/deep.png")
        for roots in [[workspace.photos, workspace.photos + "/b/c"], [workspace.photos + "/b/c", workspace.photos]] {
            #expect(try workspace.run { $0.roots = roots }.scanned == 3, "\(roots)")
        }
    }

    @Test("a photo whose path is longer than PATH_MAX is said, not silently skipped")
    func pathTooLong() throws {
        let workspace = try Workspace()
        // 2 100 nested folders "d" (made through descriptors, one open at a
        // time: their paths are too long to name), the photo at the bottom.
        var folder = open(workspace.photos, O_DIRECTORY)
        try #require(folder >= 0)
        var depth = 0
        defer {
            // Removed the same way, climbing through "..": FileManager names
            // every path whole.
            unlinkat(folder, "x.png", 0)
            while depth > 0 {
                let parent = openat(folder, "..", O_DIRECTORY)
                close(folder)
                folder = parent
                unlinkat(folder, "d", AT_REMOVEDIR)
                depth -= 1
            }
            close(folder)
        }
        for _ in 0..<2_100 {
            try #require(mkdirat(folder, "d", 0o755) == 0)
            let child = openat(folder, "d", O_DIRECTORY)
            try #require(child >= 0)
            close(folder)
            folder = child
            depth += 1
        }
        let bytes = try Fixture.bytes("photos/camera.png")
        let file = openat(folder, "x.png", O_WRONLY | O_CREAT, 0o644)
        try #require(file >= 0)
        let written = bytes.withUnsafeBytes { Glibc.write(file, $0.baseAddress, $0.count) }
        close(file)
        try #require(written == bytes.count)
        let deep = workspace.photos + String(repeating: "/d", count: 2_100) + "/x.png"
        try #require(deep.utf8.count > Int(PATH_MAX))
        try workspace.copy("photos/rocket.jpg", to: "rocket.jpg")
        var unreadable: [(path: String, reason: String)] = []
        let summary = try workspace.indexer(try workspace.database()).run(IndexingOptions(roots: [workspace.photos])) { event in
            if case let .unreadableFolder(path, reason) = event { unreadable.append((path, reason)) }
        }
        #expect(summary.scanned == 1)
        // The first folder on the way whose path is too long to look at.
        #expect(unreadable.count == 1)
        if let (path, reason) = unreadable.first {
            #expect(reason == "file name too long" && deep.hasPrefix(path + "/"))
            #expect(path.utf8.count >= Int(PATH_MAX) && path.utf8.count - 2 < Int(PATH_MAX))
        }
    }

    @Test("a root gone (an unplugged drive's folder) keeps its photos, said as an unreadable folder, while the other roots are indexed; a root that never held a photo, or every root gone, changes nothing; one inside a root that is there is a folder deleted")
    func missingRoot() throws {
        let workspace = try standardFolder()
        let drive = workspace.root.path + "/drive"
        try FileManager.default.createDirectory(atPath: drive, withIntermediateDirectories: true)
        for name in ["rocket.jpg", "camera.png"] {
            try FileManager.default.copyItem(atPath: Fixture.path("photos/" + name), toPath: drive + "/" + name)
        }
        #expect(try workspace.run { $0.roots = [workspace.photos, drive] }.added == 8)

        // Unplugged; a photo arrives in the folder that is there.
        #expect(rename(drive, drive + "-away") == 0)
        try workspace.copy("photos/astronaut-progressive.jpg", to: "astronaut.jpg")
        var unreadable: [String] = []
        let summary = try workspace.indexer(try workspace.database()).run(IndexingOptions(roots: [workspace.photos, drive])) { event in
            if case let .unreadableFolder(path, reason) = event { unreadable.append(path + ": " + reason) }
        }
        #expect(summary.added == 1 && summary.removed == 0 && summary.unchanged == 6)
        #expect(unreadable == [drive + ": it does not exist now (a drive not mounted?); its 2 photos are kept"])
        #expect(try workspace.count("SELECT COUNT(*) FROM photos") == 9)

        // A typo (no photo was ever indexed there), or no root there at all: refused, nothing changed.
        #expect(throws: PhotoIndexError.rootNotFound(path: workspace.root.path + "/unmounted")) {
            try workspace.run { $0.roots = [workspace.photos, workspace.root.path + "/unmounted"] }
        }
        #expect(throws: PhotoIndexError.rootNotFound(path: drive)) {
            try workspace.run { $0.roots = [drive] }
        }
        #expect(try workspace.count("SELECT COUNT(*) FROM photos") == 9)

        // A root inside another that is there: a folder deleted, not a drive
        // away: refused as an emptied root is, and --allow-empty forgets its photos.
        let trips = workspace.photos + "/trips"
        #expect(try workspace.run { $0.roots = [workspace.photos, trips] }.unchanged == 7)
        try FileManager.default.removeItem(atPath: trips)
        #expect(throws: PhotoIndexError.rootEmptied(path: trips, photos: 2)) {
            try workspace.run { $0.roots = [workspace.photos, trips] }
        }
        let deleted = try workspace.run {
            $0.roots = [workspace.photos, trips]
            $0.allowEmptyRoots = true
        }
        #expect(deleted.removed == 2)
    }

    @Test("another model's index is refused, or replaced on request")
    func modelMismatch() throws {
        let workspace = try standardFolder()
        _ = try workspace.run()
        let other = try CLIPModel(directory: Fixture.path("models/hf-vit-quickgelu-p8"), towers: .image)
        let identity = try Fixture.identity(other, path: Fixture.path("models/hf-vit-quickgelu-p8"))
        let indexer = Indexer(database: try workspace.database(), model: other, identity: identity)
        #expect(throws: PhotoIndexError.embeddingSizeMismatch(index: 32, given: 24, indexModel: "oc-vit-gelu-p16")) {
            try indexer.run(IndexingOptions(roots: [workspace.photos]))
        }
        var options = IndexingOptions(roots: [workspace.photos])
        options.replaceModel = true
        let summary = try indexer.run(options)
        #expect(summary.updated == 6)
        #expect(try workspace.count("SELECT COUNT(*) FROM models") == 1)
        #expect(try workspace.embedding(workspace.photos + "/cat.webp")?.count == 24)
    }

    @Test("a run stopped by its cancellation flag leaves a consistent index that the next run completes")
    func cancelled() throws {
        let workspace = try Workspace()
        for index in 0..<40 {
            try workspace.add("photo-\(index).jpg", try Fixture.uniqueJPEG("photos/rocket.jpg", tag: "\(index)"))
        }
        let flag = CancellationFlag()
        var options = IndexingOptions(roots: [workspace.photos])
        options.batchSize = 2
        var progressEvents = 0
        let first = try workspace.indexer(try workspace.database()).run(options, cancellation: flag) { event in
            if case .progress = event {
                progressEvents += 1
                if progressEvents == 3 { flag.cancel() }
            }
        }
        #expect(first.interrupted)
        let indexed = try workspace.count("SELECT COUNT(*) FROM photos")
        #expect(indexed >= 4 && indexed < 40)
        #expect(try workspace.count("SELECT COUNT(*) FROM embeddings") == indexed)
        let status = try IndexStatus.read(try workspace.database())
        #expect(status.lastRun?.status == .interrupted)
        let second = try workspace.run()
        #expect(second.unchanged == indexed && second.added == 40 - indexed)
    }
}
