import CLIP
import Foundation
import TestSupport
import GRDB
@testable import PhotoIndex

enum Fixture {
    static func path(_ relative: String) -> String { FixtureFiles.path(relative) }
    static func bytes(_ relative: String) throws -> [UInt8] { try FixtureFiles.bytes(relative) }

    static let modelPath = path("models/oc-vit-gelu-p16")
    /// The image tower of the fixture model, loaded once for all tests.
    static let model = try! CLIPModel(directory: modelPath, towers: .image)

    static func identity(_ model: CLIPModel = model, path: String = modelPath) throws -> ModelIdentity {
        try ModelIdentity.of(directory: try ModelDirectory(path: path), embeddingSize: model.embeddingSize)
    }

    /// A JPEG with a unique comment segment: same pixels, different content hash.
    static func uniqueJPEG(_ relative: String, tag: String) throws -> [UInt8] {
        let original = try bytes(relative)
        let comment = Array("photosearch test \(tag)".utf8)
        let length = comment.count + 2
        return Array(original[0..<2]) + [0xFF, 0xFE, UInt8(length >> 8), UInt8(length & 0xFF)] + comment + Array(original[2...])
    }
}

/// A scratch folder of photos and an index database next to it.
final class Workspace {
    let root: URL
    var photos: String { root.appendingPathComponent("photos").path }
    var databasePath: String { root.appendingPathComponent("index.sqlite").path }

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("photosearch-index-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: root.appendingPathComponent("photos").path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: root)
    }

    /// Writes `bytes` at `relative` under the photo folder, creating folders.
    @discardableResult
    func add(_ relative: String, _ bytes: [UInt8]) throws -> String {
        let path = photos + "/" + relative
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @discardableResult
    func copy(_ fixture: String, to relative: String) throws -> String {
        try add(relative, try Fixture.bytes(fixture))
    }

    func database(pageLimit: Int? = nil) throws -> IndexDatabase {
        try IndexDatabase(path: databasePath, create: true, pageLimit: pageLimit)
    }

    func indexer(_ database: IndexDatabase) throws -> Indexer {
        Indexer(database: database, model: Fixture.model, identity: try Fixture.identity())
    }

    func run(_ configure: (inout IndexingOptions) -> Void = { _ in }) throws -> IndexSummary {
        var options = IndexingOptions(roots: [photos])
        options.batchSize = 4
        configure(&options)
        return try indexer(try database()).run(options)
    }

    func photo(_ path: String) throws -> PhotoRecord? {
        try database().read { db in try PhotoRecord.filter(PhotoRecord.Columns.path == path).fetchOne(db) }
    }

    func embedding(_ path: String) throws -> [Float]? {
        try database().read { db in
            try Data.fetchOne(db, sql: "SELECT e.vector FROM embeddings e JOIN photos p ON p.id = e.photo_id WHERE p.path = ?",
                              arguments: [path]).map(VectorBlob.vector)
        }
    }

    func count(_ sql: String) throws -> Int {
        try database().read { db in try Int.fetchOne(db, sql: sql) ?? 0 }
    }
}

func cosine(_ a: [Float], _ b: [Float]) -> Double {
    var dot = 0.0, na = 0.0, nb = 0.0
    for (x, y) in zip(a, b) {
        dot += Double(x) * Double(y)
        na += Double(x) * Double(x)
        nb += Double(y) * Double(y)
    }
    return dot / (na.squareRoot() * nb.squareRoot())
}

/// Sets a file's modification time (as `touch` does).
func touch(_ path: String, secondsAgo: Double = 0) {
    let date = Date().addingTimeInterval(-secondsAgo)
    try? FileManager.default.setAttributes([.modificationDate: date], ofItemAtPath: path)
}
