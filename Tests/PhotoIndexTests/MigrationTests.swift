import Foundation
import GRDB
import Testing
@testable import PhotoIndex

/// Indexes made by earlier versions are upgraded by the migrations they
/// lack, which are frozen: what they write does not follow later code.
@Suite("Upgrading older indexes")
struct MigrationTests {
    @Test("a version-3 index (float32 vectors on 4 KiB pages) opens with its vectors as float16, its photos kept")
    func fromVersion3() throws {
        let workspace = try Workspace()
        let vector: [Float] = (0..<32).map { Float($0 - 16) / 37 }
        // The schema as version 3 left it, and a row as it wrote them.
        let queue = try DatabaseQueue(path: workspace.databasePath)
        try IndexDatabase.migrator.migrate(queue, upTo: "v3: the precision a model's embeddings were computed in")
        try queue.write { db in
            try db.execute(sql: """
                INSERT INTO photos (path, size, modified_at, state, updated_at) VALUES ('/photos/a.jpg', 10, 1, 'indexed', 't');
                INSERT INTO models (name, embedding_size, checksum, created_at) VALUES ('m', 32, 'xxh64:0', 't');
                """)
            let float32 = vector.map { $0.bitPattern.littleEndian }.withUnsafeBufferPointer { Data(buffer: $0) }
            try db.execute(sql: "INSERT INTO embeddings (photo_id, model_id, vector) VALUES (1, 1, ?)", arguments: [float32])
        }
        try queue.close()

        let database = try IndexDatabase(path: workspace.databasePath, create: true)
        let stored = try database.read { db in try EmbeddingRecord.fetchOne(db, key: ["photo_id": 1, "model_id": 1]) }
        let blob = try #require(stored?.vector)
        #expect(blob.count == 64)
        #expect(VectorBlob.vector(blob) == vector.map { Float(Float16($0)) })
        #expect(try database.read { db in try PhotoRecord.fetchCount(db) } == 1)
        #expect(try database.read { db in try db.tableExists("thumbnails") })
    }
}
