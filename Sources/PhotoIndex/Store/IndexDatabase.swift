import Foundation
import Imaging
import GRDB

/// The index: one SQLite database in WAL mode (concurrent readers while one
/// writer indexes), its schema kept by named migrations that are never edited
/// once shipped.
final class IndexDatabase: Sendable {
    let path: String
    let pool: DatabasePool

    /// Opens the index at `path`. With `create`, a missing database (and its
    /// folder) is created; otherwise a missing one is `indexNotFound`.
    convenience init(path: String, create: Bool) throws(PhotoIndexError) {
        try self.init(path: path, create: create, pageLimit: nil)
    }

    /// `pageLimit` caps the file at that many pages (PRAGMA max_page_count),
    /// which makes SQLite report a full disk: tests use it.
    init(path: String, create: Bool, pageLimit: Int?) throws(PhotoIndexError) {
        let path = FilePaths.absolute(path)
        self.path = path
        let manager = FileManager.default
        if !manager.fileExists(atPath: path) {
            guard create else { throw .indexNotFound(path: path) }
            let folder = (path as NSString).deletingLastPathComponent
            if !folder.isEmpty {
                do {
                    try manager.createDirectory(atPath: folder, withIntermediateDirectories: true)
                } catch {
                    throw .databaseUnavailable(path: path, reason: "cannot create \(folder): \((error as NSError).localizedFailureReason ?? error.localizedDescription)")
                }
            }
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.foreignKeysEnabled = true
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            if let pageLimit { try db.execute(sql: "PRAGMA max_page_count = \(pageLimit)") }
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            try Self.checkIsIndex(pool, path: path)
            try Self.migrator.migrate(pool)
        } catch let error as PhotoIndexError {
            throw error
        } catch let error as DatabaseError {
            throw Self.translate(error, path: path)
        } catch {
            throw .databaseUnavailable(path: path, reason: "\(error)")
        }
    }

    /// Refuses a database that holds tables but none of ours.
    private static func checkIsIndex(_ pool: DatabasePool, path: String) throws {
        let foreign = try pool.read { db -> Bool in
            let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            return !tables.isEmpty && !tables.contains("grdb_migrations")
        }
        if foreign { throw PhotoIndexError.notAnIndex(path: path) }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: photos, models, embeddings, runs") { db in
            try db.execute(sql: """
                CREATE TABLE photos (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    path TEXT NOT NULL UNIQUE,
                    size INTEGER NOT NULL CHECK (size >= 0),
                    modified_at INTEGER NOT NULL,
                    content_hash TEXT,
                    width INTEGER,
                    height INTEGER,
                    taken_at TEXT,
                    camera TEXT,
                    latitude REAL,
                    longitude REAL,
                    state TEXT NOT NULL CHECK (state IN ('indexed', 'failed')),
                    last_error TEXT,
                    updated_at TEXT NOT NULL,
                    CHECK ((state = 'failed') = (last_error IS NOT NULL))
                );
                CREATE INDEX photos_by_content ON photos(content_hash, size);
                CREATE TABLE models (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    name TEXT NOT NULL,
                    embedding_size INTEGER NOT NULL CHECK (embedding_size > 0),
                    checksum TEXT NOT NULL UNIQUE,
                    weights_path TEXT,
                    weights_size INTEGER,
                    weights_modified_at INTEGER,
                    created_at TEXT NOT NULL
                );
                CREATE TABLE embeddings (
                    photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
                    model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
                    vector BLOB NOT NULL,
                    PRIMARY KEY (photo_id, model_id)
                ) WITHOUT ROWID;
                CREATE INDEX embeddings_by_model ON embeddings(model_id);
                CREATE TABLE runs (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    started_at TEXT NOT NULL,
                    finished_at TEXT,
                    status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'interrupted', 'failed')),
                    roots TEXT NOT NULL,
                    scanned INTEGER NOT NULL DEFAULT 0,
                    added INTEGER NOT NULL DEFAULT 0,
                    updated INTEGER NOT NULL DEFAULT 0,
                    unchanged INTEGER NOT NULL DEFAULT 0,
                    moved INTEGER NOT NULL DEFAULT 0,
                    removed INTEGER NOT NULL DEFAULT 0,
                    failed INTEGER NOT NULL DEFAULT 0,
                    seconds REAL NOT NULL DEFAULT 0,
                    error TEXT
                );
                """)
        }
        migrator.registerMigration("v2: embeddings numbered in insertion order") { db in
            // Search keeps a quantised copy of the vectors (VectorMatrix) and
            // reads only rows added since it was built; an ever-increasing id
            // says which. INSERT OR REPLACE gives a replaced vector a new id.
            try db.execute(sql: """
                CREATE TABLE embeddings_v2 (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
                    model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
                    vector BLOB NOT NULL,
                    UNIQUE (photo_id, model_id)
                );
                INSERT INTO embeddings_v2 (photo_id, model_id, vector)
                    SELECT photo_id, model_id, vector FROM embeddings ORDER BY photo_id;
                DROP TABLE embeddings;
                ALTER TABLE embeddings_v2 RENAME TO embeddings;
                CREATE INDEX embeddings_by_model ON embeddings(model_id, id);
                """)
        }
        return migrator
    }

    /// Runs `body` in a write transaction, translating SQLite errors.
    func write<T>(_ body: (Database) throws -> T) throws(PhotoIndexError) -> T {
        try translating { try pool.write(body) }
    }

    /// Runs `body` on a read-only connection (concurrent with the writer).
    func read<T>(_ body: (Database) throws -> T) throws(PhotoIndexError) -> T {
        try translating { try pool.read(body) }
    }

    private func translating<T>(_ body: () throws -> T) throws(PhotoIndexError) -> T {
        do {
            return try body()
        } catch let error as PhotoIndexError {
            throw error
        } catch let error as DatabaseError {
            throw Self.translate(error, path: path)
        } catch {
            throw .database(path: path, reason: "\(error)")
        }
    }

    static func translate(_ error: DatabaseError, path: String) -> PhotoIndexError {
        switch error.resultCode {
        case .SQLITE_FULL: return .diskFull(path: path)
        case .SQLITE_NOTADB: return .notAnIndex(path: path)
        case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_READONLY:
            return .databaseUnavailable(path: path, reason: error.message ?? "\(error.resultCode)")
        case .SQLITE_CORRUPT:
            return .database(path: path, reason: "the database file is corrupt")
        default:
            return .database(path: path, reason: error.message ?? "\(error.resultCode)")
        }
    }

    /// The model whose vectors the index holds, if it holds any yet.
    func currentModel() throws(PhotoIndexError) -> ModelRecord? {
        try read { db in try ModelRecord.current(db) }
    }

    /// `PRAGMA integrity_check`: "ok" when the file is sound.
    func integrityCheck() throws(PhotoIndexError) -> String {
        try read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ") }
    }

    /// Bytes on disk: the database and its WAL.
    var sizeOnDisk: Int64 {
        var total: Int64 = 0
        for suffix in ["", "-wal", "-shm"] {
            if let attributes = try? FileManager.default.attributesOfItem(atPath: path + suffix),
               let size = attributes[.size] as? NSNumber {
                total += size.int64Value
            }
        }
        return total
    }
}
