import CLIP
import Foundation
import GRDB

/// What benchmarks need beyond the public API: an index filled with
/// synthetic vectors (as if a model had embedded that many photos), and the
/// vector file written afresh. Imported with `@_spi(Benchmarks) import`.
@_spi(Benchmarks)
extension PhotoLibrary {
    /// Creates the index and fills it with `rows` photos at `path(row)` whose
    /// embeddings are the rows of `vectors` (`rows × dimension`), recorded as
    /// made by the model in `modelDirectory` (which must make `dimension`-d
    /// embeddings for searches to use it).
    public func insertSyntheticPhotos(vectors: [Float], dimension: Int, precision: Precision,
                                      path: (Int) -> String) throws(PhotoIndexError) {
        guard let models else { throw .noModel }
        precondition(vectors.count % dimension == 0)
        let database = try database(create: true)
        let identity = try models.identity(embeddingSize: dimension, known: [])
        try database.write { db in
            try db.execute(sql: """
                INSERT INTO models (name, embedding_size, precision, checksum, weights_path, weights_size, weights_modified_at, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [identity.name, dimension, precision.rawValue, identity.checksum, identity.weightsPath,
                                 identity.weightsSize, identity.weightsModifiedAt, Timestamp.now()])
        }
        let modelID = try database.read { db in try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM models") ?? 0 }
        let rows = vectors.count / dimension
        for start in stride(from: 0, to: rows, by: 20_000) {
            try database.write { db in
                let photo = try db.makeStatement(sql: """
                    INSERT INTO photos (path, size, modified_at, state, updated_at)
                    VALUES (?, 1000, 1700000000000000000, 'indexed', '2024-01-01T00:00:00Z')
                    """)
                let embedding = try db.makeStatement(sql: "INSERT INTO embeddings (photo_id, model_id, vector) VALUES (?, ?, ?)")
                for row in start..<min(rows, start + 20_000) {
                    try photo.execute(arguments: [path(row)])
                    let blob = VectorBlob.data(Array(vectors[(row * dimension)..<((row + 1) * dimension)]))
                    try embedding.execute(arguments: [db.lastInsertedRowID, modelID, blob])
                }
            }
        }
    }

    /// Stores `jpeg` as the thumbnail of the first `count` photos (ids from
    /// 1), as indexing would have; returns their ids.
    public func insertSyntheticThumbnails(_ jpeg: [UInt8], count: Int) throws(PhotoIndexError) -> [Int64] {
        let database = try database(create: true)
        return try database.write { db in
            let ids = try Int64.fetchAll(db, sql: "SELECT id FROM photos ORDER BY id LIMIT ?", arguments: [count])
            for id in ids {
                try db.execute(sql: "INSERT OR REPLACE INTO thumbnails (photo_id, jpeg) VALUES (?, ?)", arguments: [id, Data(jpeg)])
            }
            return ids
        }
    }

    /// The index file's size, and the bytes of data SQLite keeps in it (rows
    /// and index entries, without page headers, free space or unused pages),
    /// from its `dbstat` table.
    public func storage() throws(PhotoIndexError) -> (fileBytes: Int64, payloadBytes: Int64) {
        let database = try database(create: false)
        return try database.read { db in
            let pages = try Int64.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            let pageSize = try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 0
            let payload = try Int64.fetchOne(db, sql: "SELECT SUM(payload) FROM dbstat") ?? 0
            return (pages * pageSize, payload)
        }
    }

    /// Deletes the index's vector file and writes it again from SQLite, as
    /// the first search after an index run does.
    public func rewriteVectorFile() throws(PhotoIndexError) {
        let searcher = try searcher()
        unlink(VectorMatrix.path(forIndex: searcher.database.path))
        _ = try searcher.rebuildMatrix()
    }
}

/// What the fuzzers reach that the public API does not: the vector file's
/// header and checksum checks. Imported with `@_spi(Fuzzing) import`.
@_spi(Fuzzing)
public enum VectorFileProbe {
    /// Opens a vector file as a search would (model checksum "fuzz"); when it
    /// is accepted, reads every row's scales and both quantised copies.
    /// Returns the rows read, or nil when the file was refused.
    public static func open(path: String, dimension: Int) -> Int? {
        guard let matrix = VectorMatrix(path: path, modelChecksum: "fuzz", dimension: dimension) else { return nil }
        var sum = 0
        let padded = VectorMatrix.paddedDimension(dimension)
        for row in 0..<matrix.rows {
            sum &+= Int(matrix.photoIDs[row]) &+ Int(matrix.scales[row].bitPattern) &+ Int(matrix.scales4[row].bitPattern)
            sum &+= Int(matrix.vectors[row * dimension + dimension - 1]) &+ Int(matrix.vectors4[row * padded / 2 + padded / 2 - 1])
        }
        return sum == Int.min ? nil : matrix.rows
    }
}
