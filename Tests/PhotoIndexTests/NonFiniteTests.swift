import CLIP
import Foundation
import GRDB
import Testing
import TestSupport
@testable import PhotoIndex

/// A copy of a fixture model whose tensor `name` is all NaN.
func damagedModel(_ model: String = "oc-vit-gelu-p16", tensor name: String) throws -> TemporaryDirectory {
    let directory = try TemporaryDirectory()
    let source = Fixture.path("models/\(model)")
    for file in try FileManager.default.contentsOfDirectory(atPath: source) {
        try FileManager.default.copyItem(atPath: source + "/" + file, toPath: directory.file(file))
    }
    let weights = directory.file("open_clip_model.safetensors")
    var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: weights)))
    let headerLength = Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
    struct Entry: Decodable { let data_offsets: [Int]? }   // __metadata__ has none
    let header = try JSONDecoder().decode([String: Entry].self, from: Data(bytes[8..<(8 + headerLength)]))
    let range = try #require(header[name]?.data_offsets)
    let nan: [UInt8] = [0x00, 0x00, 0xC0, 0x7F]       // float32 quiet NaN, little-endian
    for offset in stride(from: 8 + headerLength + range[0], to: 8 + headerLength + range[1], by: 4) {
        bytes.replaceSubrange(offset..<(offset + 4), with: nan)
    }
    try Data(bytes).write(to: URL(fileURLWithPath: weights))
    return directory
}

@Suite("NaN and infinity never reach an index, and never break a search")
struct NonFiniteTests {
    @Test("a model whose image tower computes NaN is refused before indexing anything")
    func damagedModelRefused() throws {
        let model = try damagedModel(tensor: "visual.proj")
        let workspace = try Workspace()
        try workspace.copy("photos/chelsea.png", to: "cat.png")
        let library = PhotoLibrary(database: workspace.databasePath, model: model.path)
        #expect(throws: PhotoIndexError.model(.nonFiniteEmbedding(path: model.path, tower: "image"))) {
            try library.index(IndexingOptions(roots: [workspace.photos]))
        }
        #expect(!FileManager.default.fileExists(atPath: workspace.databasePath))
    }

    @Test("an embedding that is not finite fails its photo, with the reason, and is not stored")
    func photoFails() throws {
        let model = try damagedModel(tensor: "visual.proj")
        let workspace = try Workspace()
        try workspace.copy("photos/chelsea.png", to: "cat.png")
        try workspace.copy("photos/rocket.jpg", to: "rocket.jpg")
        // The indexer itself, without the library's probe.
        let clip = try CLIPModel(directory: model.path, towers: .image)
        let identity = try ModelIdentity.of(directory: try ModelDirectory(path: model.path), embeddingSize: clip.embeddingSize)
        var failures: [String] = []
        let summary = try Indexer(database: try workspace.database(), model: clip, identity: identity)
            .run(IndexingOptions(roots: [workspace.photos])) { event in
                if case let .failed(_, reason) = event { failures.append(reason) }
            }
        #expect(summary.failed == 2 && summary.added == 0)
        #expect(failures == Array(repeating: "the model's embedding of it is not finite (NaN or infinity): is the model damaged?", count: 2))
        #expect(try workspace.count("SELECT COUNT(*) FROM embeddings") == 0)
    }

    @Test("a NaN row already stored is left out of searches, the vector file and duplicates")
    func storedNaN() throws {
        let workspace = try Workspace()
        for name in ["chelsea.png", "rocket.jpg", "camera.png"] { try workspace.copy("photos/\(name)", to: name) }
        _ = try workspace.run()
        // An older version, or a damaged disk, left one row of NaN.
        try workspace.database().write { db in
            try db.execute(sql: "UPDATE embeddings SET vector = ? WHERE photo_id = (SELECT id FROM photos WHERE path LIKE '%rocket.jpg')",
                           arguments: [VectorBlob.data([Float](repeating: .nan, count: 32))])
        }
        let library = PhotoLibrary(database: workspace.databasePath, model: Fixture.modelPath)
        let hits = try library.search(try SearchQuery.parse("anything"), .init(top: 10))
        #expect(Set(hits.map { ($0.path as NSString).lastPathComponent }) == ["chelsea.png", "camera.png"])
        #expect(hits.allSatisfy { $0.score.isFinite })
        #expect(try library.duplicates(threshold: 0.5).allSatisfy { !$0.paths.contains { $0.hasSuffix("rocket.jpg") } })
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: workspace.root.path).filter { $0.hasSuffix(".tmp") || $0.contains(".tmp.") }
        #expect(leftovers.isEmpty)
    }
}
