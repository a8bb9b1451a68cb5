import Foundation
import GRDB

/// What `photosearch status` reports about an index.
public struct IndexStatus: Sendable {
    public struct Failure: Sendable, Equatable {
        public var path: String
        public var reason: String
    }

    /// A folder (or photo) an index run was given, and its photos.
    public struct Folder: Sendable, Equatable {
        public var path: String
        public var indexed: Int
        public var failed: Int
    }

    public var path: String
    public var indexed: Int
    public var failed: Int
    /// The folders index runs were given that hold indexed or failed
    /// photos, by path (at most `folderLimit`).
    public var folders: [Folder]
    /// Up to `failureLimit` failed photos, most recent first.
    public var failures: [Failure]
    public var model: ModelRecord?
    public var embeddings: Int
    /// Indexed photos with a GPS position, and those of them whose place is
    /// known (the rest are farther than 100 km from any, or not derived yet).
    public var withPosition: Int
    public var withPlace: Int
    public var databaseBytes: Int64
    /// The last run; one recorded as running whose process is gone (killed,
    /// or the machine stopped) is reported as interrupted.
    public var lastRun: RunRecord?
    /// The process indexing now, if any.
    public var writer: Int32?
    /// The vector file searches scan (nil: none yet; the next search writes it).
    public var vectorFile: VectorFile?
    /// The state of the embeddings: another value whenever a photo is
    /// embedded, re-embedded or leaves (0 for an index made before
    /// generations, read where it cannot be migrated).
    public var generation: Int64 = 0

    /// The layout of the vector file searches scan.
    public struct VectorFile: Sendable, Equatable {
        public var rows: Int
        /// The cells it is partitioned into; 0: a search scans every row.
        public var cells: Int
        /// The cells a search scans by default.
        public var probes: Int
        /// Embeddings added since it was written (searched exhaustively
        /// until it is written again).
        public var newer: Int
    }

    /// The vector file's cells, if it is partitioned.
    public var vectorCells: Int? { vectorFile.flatMap { $0.cells > 0 ? $0.cells : nil } }

    /// The photos indexed and failed, and the embeddings of the index's model
    /// (one model at a time). Fewer embeddings than indexed photos: a run
    /// replacing the model stopped after it dropped the old ones.
    ///
    /// Cheap enough for every search (0.5 ms at 100 000 photos): whole-table
    /// counts, which SQLite takes from its b-trees' page counts, and the
    /// failed through their partial index, which the range on `id` (every
    /// rowid) makes the planner use; a count of the indexed scans a row each
    /// (7 ms).
    static func counts(_ db: Database) throws -> (indexed: Int, failed: Int, embedded: Int) {
        let photos = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM photos") ?? 0
        let failed = try Int.fetchOne(db, sql: """
            SELECT COUNT(*) FROM photos WHERE state = 'failed' AND id BETWEEN -9223372036854775808 AND 9223372036854775807
            """) ?? 0
        return (photos - failed, failed, try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM embeddings") ?? 0)
    }

    /// Reads the status of the index at `database` (a read transaction; safe
    /// while an indexer writes).
    static func read(_ database: IndexDatabase, failureLimit: Int = 20, folderLimit: Int = 100) throws(PhotoIndexError) -> IndexStatus {
        try database.read { db in
            let (indexed, failed, embeddings) = try counts(db)
            let failures = try Row.fetchAll(db, sql: """
                SELECT CAST(path AS TEXT) AS path, CAST(last_error AS TEXT) AS last_error FROM photos
                WHERE state = 'failed' ORDER BY updated_at DESC, path LIMIT ?
                """, arguments: [failureLimit]).map { Failure(path: $0["path"], reason: $0["last_error"]) }
            let model = try ModelRecord.current(db)
            let positions = try Row.fetchOne(db, sql: """
                SELECT COUNT(*), COUNT(place_id) FROM photos WHERE state = 'indexed' AND latitude IS NOT NULL AND longitude IS NOT NULL
                """)
            var lastRun = try RunRecord.fetchOne(db, sql: "SELECT * FROM runs ORDER BY id DESC LIMIT 1")
            let writer = WriterLock.holder(indexPath: database.path)
            if lastRun?.status == .running, writer == nil { lastRun?.status = .interrupted }
            var vectorFile: VectorFile?
            if let model, let summary = VectorMatrix.summary(path: VectorMatrix.path(forIndex: database.path)),
               try IndexDatabase.hasGeneration(summary.generation, db) {
                let newer = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM embeddings WHERE model_id = ? AND id > ?",
                                             arguments: [model.id, summary.highestEmbeddingID]) ?? 0
                vectorFile = VectorFile(rows: summary.rows, cells: summary.cells,
                                        probes: summary.cells > 0 ? Partitioning.probes(cells: summary.cells) : 0, newer: newer)
            }
            // Each distinct set of roots once (a scheduled run repeats its own).
            var roots = Set<String>()
            for joined in try String.fetchAll(db, sql: "SELECT DISTINCT roots FROM runs") {
                for root in joined.split(separator: "\n") where !root.isEmpty { roots.insert(String(root)) }
            }
            var folders: [Folder] = []
            for root in roots.sorted() {
                // The photos under it, or the root itself (a photo).
                let range = SearchFilter.paths(under: root)
                let counts = try Row.fetchAll(db, sql: """
                    SELECT state, COUNT(*) FROM photos WHERE (path >= ? AND path < ?) OR path = ? GROUP BY state
                    """, arguments: [range.from, range.before, root])
                var folder = Folder(path: root, indexed: 0, failed: 0)
                for row in counts {
                    switch row[0] as String? {
                    case "indexed": folder.indexed = row[1]
                    case "failed": folder.failed = row[1]
                    default: break
                    }
                }
                if folder.indexed + folder.failed > 0 { folders.append(folder) }
                if folders.count == folderLimit { break }
            }
            return IndexStatus(path: database.path, indexed: indexed, failed: failed, folders: folders, failures: failures, model: model,
                               embeddings: embeddings, withPosition: positions?[0] ?? 0, withPlace: positions?[1] ?? 0,
                               databaseBytes: database.sizeOnDisk, lastRun: lastRun, writer: writer, vectorFile: vectorFile,
                               generation: try IndexDatabase.generation(db))
        }
    }
}
