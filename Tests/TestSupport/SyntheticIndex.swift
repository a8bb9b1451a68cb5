import CLIP
import Foundation
import GRDB
import PhotoIndex

/// Indexes filled with synthetic vectors, as if a model had embedded that
/// many photos, written through the store's own write path (its `package`
/// API): benchmarks search 100 000 photos without decoding one.
public enum SyntheticIndex {
    /// Creates the index of `library` and fills it with `rows` photos at
    /// `path(row)` whose embeddings are the rows of `vectors`
    /// (`rows × dimension`), recorded as made by the library's model (which
    /// must make `dimension`-d embeddings for searches to use it).
    /// `position(row)`: the photo's GPS position, if it has one (its place
    /// is derived by `derivePlaces`, as an index run's end does).
    public static func insertPhotos(into library: PhotoLibrary, vectors: [Float], dimension: Int, precision: Precision,
                                    path: (Int) -> String,
                                    position: (Int) -> (latitude: Double, longitude: Double)? = { _ in nil }) throws {
        precondition(vectors.count % dimension == 0)
        try insertPhotos(into: library, rows: vectors.count / dimension, dimension: dimension, precision: precision, path: path,
                         position: position) { range, target in
            vectors.withUnsafeBufferPointer { source in
                target.update(from: source.baseAddress! + range.lowerBound * dimension, count: range.count * dimension)
            }
        }
    }

    /// The same for `rows` photos (added to those there are, when the
    /// index is of the same model) whose vectors `vectors(range, target)`
    /// writes a block at a time (range.count × dimension values): ten
    /// million of them need not be in memory at once.
    public static func insertPhotos(into library: PhotoLibrary, rows: Int, dimension: Int, precision: Precision,
                                    path: (Int) -> String,
                                    position: (Int) -> (latitude: Double, longitude: Double)? = { _ in nil },
                                    vectors: (Range<Int>, UnsafeMutablePointer<Float>) -> Void) throws {
        guard let modelDirectory = library.modelDirectory else { throw PhotoIndexError.noModel }
        let database = try library.database(create: true)
        let identity = try ModelIdentity.of(directory: try ModelDirectory(path: modelDirectory), embeddingSize: dimension)
        let modelID = try database.write { db -> Int64 in
            // Photos added to an index of this model are its model's.
            if let current = try ModelRecord.current(db), current.checksum == identity.checksum, let id = current.id { return id }
            var model = ModelRecord(id: nil, name: identity.name, embeddingSize: dimension, precision: precision, checksum: identity.checksum,
                                    weightsPath: identity.weightsPath, weightsSize: identity.weightsSize,
                                    weightsModifiedAt: identity.weightsModifiedAt, createdAt: Timestamp.now())
            try model.insert(db)
            return model.id!
        }
        let block = 20_000
        var values = [Float](repeating: 0, count: block * dimension)
        for start in stride(from: 0, to: rows, by: block) {
            let range = start..<min(rows, start + block)
            values.withUnsafeMutableBufferPointer { vectors(range, $0.baseAddress!) }
            try database.write { db in
                for row in range {
                    let place = position(row)
                    var photo = PhotoRecord.indexed(path: path(row), size: 1000, modifiedAt: 1_700_000_000_000_000_000, contentHash: "",
                                                    width: nil, height: nil, takenAt: nil, camera: nil, latitude: place?.latitude,
                                                    longitude: place?.longitude, now: "2024-01-01T00:00:00Z")
                    let id = try photo.save(db)
                    let offset = (row - start) * dimension
                    let blob = VectorBlob.data(Array(values[offset..<(offset + dimension)]))
                    try EmbeddingRecord(photoID: id, modelID: modelID, vector: blob).insert(db)
                }
            }
        }
        try database.checkpoint()   // as an index run leaves it
    }

    /// Derives the places of the photos' positions, as each index run
    /// does at its end; returns how many photos it looked up.
    @discardableResult
    public static func derivePlaces(in library: PhotoLibrary) throws -> Int {
        try PlaceAssignment.update(try library.database(create: true))
    }

    /// Forgets every derived place, as an index made before places were
    /// derived, or from other data, has none.
    public static func forgetPlaces(in library: PhotoLibrary) throws {
        try library.database(create: true).write { db in
            try db.execute(sql: "UPDATE photos SET place_stamp = NULL, place_id = NULL, place_distance = NULL")
            try db.execute(sql: "DELETE FROM places")
        }
    }

    /// Stores `jpeg` as the thumbnail of the first `count` photos, as
    /// indexing would have; returns their ids.
    public static func insertThumbnails(into library: PhotoLibrary, _ jpeg: [UInt8], count: Int) throws -> [Int64] {
        try library.database(create: true).write { db in
            let ids = try Int64.fetchAll(db, sql: "SELECT id FROM photos ORDER BY id LIMIT ?", arguments: [count])
            for id in ids { try ThumbnailRecord.set(jpeg, for: id, db) }
            return ids
        }
    }

    /// The index file's size, and the bytes of data SQLite keeps in it (rows
    /// and index entries, without page headers, free space or unused
    /// pages), from its `dbstat` table.
    public static func storage(of path: String) throws -> (fileBytes: Int64, payloadBytes: Int64) {
        var configuration = Configuration()
        configuration.readonly = true
        return try DatabaseQueue(path: path, configuration: configuration).read { db in
            let pages = try Int64.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            let pageSize = try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 0
            let payload = try Int64.fetchOne(db, sql: "SELECT SUM(payload) FROM dbstat") ?? 0
            return (pages * pageSize, payload)
        }
    }

    /// Deletes the index's vector file; the next search writes it again
    /// from SQLite, as the first search after an index run does.
    public static func removeVectorFile(of library: PhotoLibrary) {
        unlink(VectorMatrix.path(forIndex: library.databasePath))
    }
}
