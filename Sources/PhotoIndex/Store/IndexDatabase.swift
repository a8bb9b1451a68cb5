import FileAccess
import Foundation
import Imaging
import GRDB

/// The index: one SQLite database in WAL mode (concurrent readers while one
/// writer indexes), its schema kept by named migrations that are never edited
/// once shipped.
///
/// Reading never needs to write: an index on a read-only medium, in another
/// user's folder or with mode 444 is opened read-only (a `DatabasePool`
/// without the WAL set-up), and, when even SQLite's shared-memory file cannot
/// be created next to it, as an immutable file.
package final class IndexDatabase: Sendable {
    enum Access: Sendable {
        /// Indexing: create a missing index, migrate, write.
        case write
        /// Searching and status: an existing index, read-only if need be.
        case read
    }

    package let path: String
    let connection: any DatabaseWriter
    /// True when the index was opened for reading only (searches), or could
    /// only be opened so.
    let isReadOnly: Bool
    /// The file opened (device, inode): what `isStillAtPath` compares with.
    private let identity: FileIdentity?

    /// Opens the index at `path`. With `create`, a missing database (and its
    /// folder) is created; otherwise a missing one is `indexNotFound`.
    package convenience init(path: String, create: Bool) throws(PhotoIndexError) {
        try self.init(path: path, access: create ? .write : .read, pageLimit: nil)
    }

    /// `pageLimit` caps the file at that many pages (PRAGMA max_page_count),
    /// which makes SQLite report a full disk: tests use it.
    convenience init(path: String, create: Bool, pageLimit: Int?) throws(PhotoIndexError) {
        try self.init(path: path, access: create ? .write : .read, pageLimit: pageLimit)
    }

    init(path: String, access: Access, pageLimit: Int? = nil) throws(PhotoIndexError) {
        let path = FilePaths.absolute(path)
        self.path = path
        let manager = FileManager.default
        // SQLite would wait forever on a FIFO in place of the index or its
        // journal files (opening one to read, or reading one it opened to write).
        for file in [path, path + "-wal", path + "-shm"] {
            if let status = FilePaths.status(file), (status.st_mode & S_IFMT) != S_IFREG {
                throw .databaseUnavailable(path: path, reason: "\(FilePaths.displayed(file)) is not a regular file")
            }
        }
        // SQLite keeps a journal beside each name of a file: a write-ahead
        // log left beside one name of a hard-linked index is replayed into
        // it when it is next opened by that name, over what was written
        // through the other since, and the index is corrupt.
        if access == .write, let status = FilePaths.status(path), status.st_nlink > 1 {
            throw .databaseUnavailable(path: path, reason: """
                it has \(status.st_nlink) names (hard links), and SQLite's journal beside one name would corrupt what was written \
                through another: give it one name (cp it to a new file and mv that over it; a symbolic link is safe)
                """)
        }
        // An empty file (`touch`ed, or left by a failed copy) is no index yet:
        // reading it would make one, and searching and status never write.
        // (A new index's content in its write-ahead log alone counts.)
        if access == .read, FilePaths.status(path)?.st_size == 0, (FilePaths.status(path + "-wal")?.st_size ?? 0) == 0 {
            throw .indexNotFound(path: path)
        }
        let creating = !manager.fileExists(atPath: path)
        if creating {
            guard access == .write else { throw .indexNotFound(path: path) }
            let folder = FilePaths.deletingLastComponent(path)
            if !folder.isEmpty {
                if let problem = FilePaths.createFolders(folder) { throw .databaseUnavailable(path: path, reason: problem) }
            }
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.foreignKeysEnabled = true
        configuration.prepareDatabase { db in
            if !db.configuration.readonly {
                // Only a new, empty file takes it (before WAL mode is set): 16 KiB
                // pages hold 15 float16 512-d embeddings, ~96% full, where 4 KiB
                // pages held one float32 embedding of 2 KiB each.
                try db.execute(sql: "PRAGMA page_size = \(IndexDatabase.pageSize)")
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
                // The write-ahead log is copied into the database past 4 MiB
                // (SQLite's default, 1 000 pages, is 16 MiB of ours: a run
                // needed that much free space beyond the index), and cut back
                // to 4 MiB after.
                try db.execute(sql: "PRAGMA wal_autocheckpoint = \(IndexDatabase.walPages)")
                try db.execute(sql: "PRAGMA journal_size_limit = \(IndexDatabase.walPages * IndexDatabase.pageSize)")
            }
            // SQLite's default cache is 2 000 KiB: 125 of our 16 KiB pages.
            // A transaction that changes more pages than that (deriving
            // 100 000 photos' places, replacing a model's vectors) spills
            // them to the WAL and reads them back again and again: 7 million
            // preads for what 32 MiB of cache does in one pass. Pages are
            // allocated as used: a small index never takes it.
            try db.execute(sql: "PRAGMA cache_size = -\(IndexDatabase.cacheKibibytes)")
            if let pageLimit { try db.execute(sql: "PRAGMA max_page_count = \(pageLimit)") }
        }
        do {
            (connection, isReadOnly) = try Self.open(path: path, access: access, configuration: configuration)
            identity = FileIdentity(path: path)
        } catch {
            // A new index that could not be made whole (a full disk) is not
            // left half made, where it would read as an older version's.
            if creating {
                for file in [path, path + "-wal", path + "-shm"] { _ = FilePaths.withFileSystemRepresentation(file) { unlink($0) } }
            }
            switch error {
            case let error as PhotoIndexError: throw error
            case let error as DatabaseError: throw Self.translate(error, path: path)
            default: throw .databaseUnavailable(path: path, reason: "\(error)")
            }
        }
    }

    /// Whether `path` still names the file opened: not after it was deleted,
    /// or replaced (a backup restored over it, another index moved there).
    var isStillAtPath: Bool {
        identity != nil && FileIdentity(path: path) == identity
    }

    /// For reading, read-only connections: a search writes nothing, not even
    /// the checkpoint (two fdatasyncs) that SQLite's last writable connection
    /// makes on closing. For writing, or an index made by an older version,
    /// a pool, migrated; for reading, read-only connections when migrating
    /// fails for want of write access.
    private static func open(path: String, access: Access, configuration: Configuration) throws -> (any DatabaseWriter, Bool) {
        if access == .read {
            var readOnly = configuration
            readOnly.readonly = true
            if let connection = try? openReadOnly(path: path, configuration: readOnly) {
                try checkIsIndex(connection, path: path)
                // A SQLite file without a table is no index yet, as an empty
                // file: reading never makes one in it. (An index without
                // generations, made before v9, is migrated below where it
                // can be written: its vector file is then bound to it. Where
                // it cannot, it is read as it is.)
                let (empty, current) = try connection.read { db in
                    (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sqlite_master") == 0,
                     try readable(db) && db.tableExists("generations"))
                }
                if empty { throw PhotoIndexError.indexNotFound(path: path) }
                if current { return (connection, true) }
            }
        }
        // Checked read-only before a pool opens it: opening one switches a
        // database to WAL mode for good, another program's database too.
        if access == .write, (FilePaths.status(path)?.st_size ?? 0) > 0 {
            var readOnly = configuration
            readOnly.readonly = true
            try checkIsIndex(try DatabaseQueue(path: path, configuration: readOnly), path: path, forWriting: true)
        }
        do {
            let pool = try DatabasePool(path: path, configuration: configuration)
            try checkIsIndex(pool, path: path, forWriting: true)
            try migrator.migrate(pool)
            return (pool, false)
        } catch let error as DatabaseError where access == .read && cannotWrite(error) {
            var configuration = configuration
            configuration.readonly = true
            let connection = try openReadOnly(path: path, configuration: configuration)
            try checkIsIndex(connection, path: path)
            guard try connection.read({ db in try readable(db) }) else {
                throw PhotoIndexError.databaseUnavailable(
                    path: path, reason: "it was made by an older photosearch and must be upgraded by a photosearch index run that can write to it")
            }
            return (connection, true)
        }
    }

    /// Errors that mean "this process may not write here": a read-only file,
    /// folder or medium, another user's files, a full disk.
    private static func cannotWrite(_ error: DatabaseError) -> Bool {
        [.SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_IOERR, .SQLITE_FULL].contains(error.resultCode)
    }

    /// Read-only connections: a pool, which needs SQLite's shared-memory file
    /// (`-shm`) to exist or be creatable; else one immutable connection, for
    /// an index on a medium nobody writes to.
    private static func openReadOnly(path: String, configuration: Configuration) throws -> any DatabaseWriter {
        do {
            let pool = try DatabasePool(path: path, configuration: configuration)
            _ = try pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sqlite_master") }
            return pool
        } catch let error as DatabaseError where cannotWrite(error) {
            // Debian's SQLite is built with SQLITE_USE_URI.
            var escaped = ""
            for character in path.unicodeScalars {
                switch character {
                case "%", "?", "#": escaped += String(format: "%%%02X", character.value)
                default: escaped.unicodeScalars.append(character)
                }
            }
            return try DatabaseQueue(path: "file:" + escaped + "?immutable=1", configuration: configuration)
        }
    }

    /// Refuses a database that holds tables but none of our migrations
    /// (another program's, GRDB's migrations table or not), and, to write,
    /// an index a newer photosearch migrated further (this version reads it).
    private static func checkIsIndex(_ reader: any DatabaseReader, path: String, forWriting: Bool = false) throws {
        let (tables, applied) = try reader.read { db in
            (try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"),
             try db.tableExists("grdb_migrations") ? try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations") : [])
        }
        let ours = Set(migrator.migrations)
        if tables.contains(where: { $0 != "grdb_migrations" }) && ours.isDisjoint(with: applied) {
            throw PhotoIndexError.notAnIndex(path: path)
        }
        if forWriting, let unknown = applied.first(where: { !ours.contains($0) }) {
            throw PhotoIndexError.databaseUnavailable(path: path, reason: """
                a newer photosearch made it (its schema has "\(unknown.prefix(80))"): this version searches it, \
                but only the newer one may index into it
                """)
        }
    }

    /// Migrations a search can do without: an index that lacks only these
    /// (made before them, on a medium this process cannot write) is still
    /// searched, a little slower.
    /// (v9: without generations, a vector file is trusted by its model, as before.)
    static let optionalMigrations: Set<String> = ["v7: failed photos listed apart", "v8: photos in time order", "v9: generations"]

    /// Whether this version can read the index as it is: every migration
    /// but optional ones applied.
    private static func readable(_ db: Database) throws -> Bool {
        Set(migrator.migrations).subtracting(try migrator.appliedIdentifiers(db)).isSubset(of: optionalMigrations)
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
        migrator.registerMigration("v3: the precision a model's embeddings were computed in") { db in
            // Indexes before this migration were all computed in float32.
            try db.execute(sql: """
                ALTER TABLE models ADD COLUMN precision TEXT NOT NULL DEFAULT 'fp32' CHECK (precision IN ('fp32', 'int8'))
                """)
        }
        migrator.registerMigration("v4: embeddings stored as float16") { db in
            // Half the bytes at a cosine of 0.99999+ to the float32 vector;
            // converted in chunks to bound memory. The conversion is written
            // out here, frozen: what VectorBlob does later must not change
            // what this migration writes into the indexes it upgrades.
            func float16Blob(fromFloat32 blob: Data) -> Data {
                var halves: [UInt16] = []
                blob.withUnsafeBytes { raw in
                    for offset in stride(from: 0, to: raw.count - 3, by: 4) {
                        let value = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
                        halves.append(Float16(value).bitPattern.littleEndian)
                    }
                }
                return halves.withUnsafeBufferPointer { Data(buffer: $0) }
            }
            var last: Int64 = 0
            while true {
                let rows = try Row.fetchAll(db, sql: "SELECT id, vector FROM embeddings WHERE id > ? ORDER BY id LIMIT 2000",
                                            arguments: [last])
                guard let end = rows.last else { break }
                for row in rows {
                    try db.execute(sql: "UPDATE embeddings SET vector = ? WHERE id = ?",
                                   arguments: [float16Blob(fromFloat32: row["vector"]), row["id"] as Int64])
                }
                last = end["id"]
            }
        }
        migrator.registerMigration("v5: thumbnails") { db in
            // In the index itself: one file to copy or back up, a thumbnail
            // leaves with its photo (ON DELETE CASCADE) in the same
            // transaction, and a search, which never reads this table, does
            // not pay for it. Photos indexed before get theirs on the next
            // index run of their folder, or when first asked for.
            try db.execute(sql: """
                CREATE TABLE thumbnails (
                    photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
                    jpeg BLOB NOT NULL
                )
                """)
        }
        migrator.registerMigration("v6: places") { db in
            // The places the index's photos were taken in, each with every
            // name a filter may give it (folded: `PlaceDirectory.searchKey`),
            // copied from the built-in data, whose ids they keep: a search
            // matches names here without loading that data. A photo's place
            // is derived after indexing (`PlaceAssignment`), for photos
            // indexed before this migration too, and again when the data or
            // the folding changes (`stamp`). The two indexes cover what a
            // place or position filter reads (without `state`, every match
            // was a lookup in the table: +70 ms for 35 000 photos).
            try db.execute(sql: """
                CREATE TABLE places (
                    id INTEGER PRIMARY KEY,
                    stamp INTEGER NOT NULL,
                    name TEXT NOT NULL,
                    region TEXT,
                    country_code TEXT NOT NULL,
                    country TEXT NOT NULL,
                    latitude REAL NOT NULL,
                    longitude REAL NOT NULL,
                    population INTEGER NOT NULL
                );
                CREATE TABLE place_names (
                    key TEXT NOT NULL,
                    place_id INTEGER NOT NULL REFERENCES places(id) ON DELETE CASCADE,
                    kind TEXT NOT NULL CHECK (kind IN ('place', 'region', 'country')),
                    PRIMARY KEY (key, place_id)
                ) WITHOUT ROWID;
                CREATE INDEX place_names_by_place ON place_names(place_id);
                ALTER TABLE photos ADD COLUMN place_id INTEGER REFERENCES places(id) ON DELETE SET NULL;
                ALTER TABLE photos ADD COLUMN place_distance REAL;
                ALTER TABLE photos ADD COLUMN place_stamp INTEGER;
                CREATE INDEX photos_by_place ON photos(place_id, state);
                CREATE INDEX photos_by_position ON photos(latitude, longitude, state) WHERE latitude IS NOT NULL;
                """)
        }
        migrator.registerMigration("v7: failed photos listed apart") { db in
            // Every gallery search and page says how many photos the
            // filters let through; without filters, counting the indexed
            // rows one by one took 8 ms at 100 000 photos. SQLite counts a
            // whole table from its pages (0.4 ms), and the few failed photos
            // from this index (`PhotoSearcher.count`). Optional: an index
            // without it, which could not be written, is counted row by row.
            try db.execute(sql: "CREATE INDEX photos_failed ON photos(id) WHERE state = 'failed'")
        }
        migrator.registerMigration("v8: photos in time order") { db in
            // A timeline page (the gallery's first) sorted every photo by
            // the date results show, rendering it from the file's time for
            // the photos without an EXIF date: 178 ms at 100 000 photos,
            // 387 for the next page. In time order, a page reads a few more
            // photos than it shows (`PhotoSearcher.newest`). Optional: an
            // index without it, which could not be written, is sorted whole.
            try db.execute(sql: "CREATE INDEX photos_by_time ON photos(\(SearchFilter.time)) WHERE state = 'indexed'")
        }
        migrator.registerMigration("v9: generations") { db in
            // The index's history, for its vector file (`generation`): a
            // change to the embeddings, from any statement, marks the
            // transaction, which `write` ends with a new generation. (A
            // later migration that changes them, which runs outside `write`,
            // ends with `recordGenerationIfChanged` itself.)
            try db.execute(sql: """
                CREATE TABLE generations (id INTEGER PRIMARY KEY AUTOINCREMENT, token INTEGER NOT NULL);
                CREATE INDEX generations_by_token ON generations(token);
                CREATE TABLE generation_pending (changed INTEGER NOT NULL);
                INSERT INTO generation_pending VALUES (0);
                CREATE TRIGGER embeddings_added AFTER INSERT ON embeddings
                    BEGIN UPDATE generation_pending SET changed = 1 WHERE changed = 0; END;
                CREATE TRIGGER embeddings_removed AFTER DELETE ON embeddings
                    BEGIN UPDATE generation_pending SET changed = 1 WHERE changed = 0; END;
                CREATE TRIGGER embeddings_changed AFTER UPDATE ON embeddings
                    BEGIN UPDATE generation_pending SET changed = 1 WHERE changed = 0; END;
                """)
            try recordGeneration(db)
        }
        return migrator
    }

    // MARK: Generations

    /// Every write transaction that changes the embeddings records a random
    /// token (the others, a run's records, thumbnails, places, none), the
    /// index's last `keptGenerations` are kept, and a vector file records the
    /// token of the state it was built from (`VectorMatrix`). A file is this index's, at
    /// a state this index went through, only while that token is in its
    /// history: not another index's file left beside it (`mv B.sqlite
    /// A.sqlite`), nor one written after the state a backup restores, whose
    /// embedding ids would name other photos or none. Such a file is
    /// rebuilt, where it was trusted by its model alone before.
    static let keptGenerations: Int64 = 10_000

    static func recordGeneration(_ db: Database) throws {
        try db.execute(sql: "INSERT INTO generations (token) VALUES (?)", arguments: [Int64.random(in: 1...Int64.max)])
        try db.execute(sql: "DELETE FROM generations WHERE id <= ?", arguments: [db.lastInsertedRowID - keptGenerations])
    }

    /// At the end of a write transaction: a generation, if it changed the
    /// embeddings (`generation_pending`, set by the v9 triggers).
    static func recordGenerationIfChanged(_ db: Database) throws {
        guard try Bool.fetchOne(db, sql: "SELECT changed FROM generation_pending") == true else { return }
        try recordGeneration(db)
        try db.execute(sql: "UPDATE generation_pending SET changed = 0")
    }

    /// The token of the state `db` reads; 0 for an index made before
    /// generations (read where it cannot be migrated).
    static func generation(_ db: Database) throws -> Int64 {
        guard try db.tableExists("generations") else { return 0 }
        return try Int64.fetchOne(db, sql: "SELECT token FROM generations ORDER BY id DESC LIMIT 1") ?? 0
    }

    /// Whether `token` is a state of this index's history (0: of an index
    /// made before generations, which only such an index accepts).
    static func hasGeneration(_ token: Int64, _ db: Database) throws -> Bool {
        guard try db.tableExists("generations") else { return token == 0 }
        return try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM generations WHERE token = ?)", arguments: [token]) ?? false
    }

    /// Each connection's page cache, at most.
    static let cacheKibibytes = 32768

    /// The page size of indexes made since v4 of the schema (see `compact`).
    static let pageSize = 16384

    /// The write-ahead log's size, in pages, past which it is checkpointed.
    static let walPages = 256

    /// Rewrites an index made with smaller pages at `pageSize` (VACUUM), so
    /// that float16 embeddings fill its pages. Needs every other connection
    /// closed, which the writer lock and an idle index give; a reader in
    /// another process makes it wait for a later run. Returns whether it ran.
    @discardableResult
    func compactIfNeeded() -> Bool {
        guard !isReadOnly, let pool = connection as? DatabasePool else { return false }
        do {
            return try pool.barrierWriteWithoutTransaction { db -> Bool in
                guard try Int.fetchOne(db, sql: "PRAGMA page_size") ?? Self.pageSize < Self.pageSize else { return false }
                try db.execute(sql: "PRAGMA journal_mode = DELETE")
                defer { _ = try? String.fetchOne(db, sql: "PRAGMA journal_mode = WAL") }
                try db.execute(sql: "PRAGMA page_size = \(Self.pageSize)")
                try db.execute(sql: "VACUUM")
                return true
            }
        } catch {
            return false
        }
    }

    /// Copies the write-ahead log into the database and empties it (best
    /// effort: not while a reader is in the middle of a transaction). A WAL
    /// left at tens of megabytes after indexing is read whole by the next
    /// process to open the index, to rebuild its in-memory index of it: 8 ms
    /// of every search at 100 000 photos. A full disk is an error: what the
    /// run wrote is safe in the log, but the next run cannot write.
    package func checkpoint() throws(PhotoIndexError) {
        guard !isReadOnly else { return }
        do {
            _ = try connection.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
        } catch let error as DatabaseError {
            if case .diskFull = Self.translate(error, path: path) { throw .diskFull(path: path) }
        } catch {}
    }

    /// Runs `body` in a write transaction, translating SQLite errors; one
    /// that changed the embeddings records a new generation.
    package func write<T>(_ body: (Database) throws -> T) throws(PhotoIndexError) -> T {
        guard !isReadOnly else { throw .databaseUnavailable(path: path, reason: "it can only be read here (read-only file, folder or medium)") }
        return try translating {
            try connection.write { db in
                let result = try body(db)
                try Self.recordGenerationIfChanged(db)
                return result
            }
        }
    }

    /// Runs `body` on a read-only connection (concurrent with the writer).
    package func read<T>(_ body: (Database) throws -> T) throws(PhotoIndexError) -> T {
        try translating { try connection.read(body) }
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

    /// Whether the file system holding `path` (or its folder, when there
    /// is no file yet) is mounted read-only.
    static func onReadOnlyFileSystem(_ path: String) -> Bool {
        var status = statvfs()
        for candidate in [path, FilePaths.deletingLastComponent(FilePaths.absolute(path))] {
            if FilePaths.withFileSystemRepresentation(candidate, { statvfs($0, &status) }) == 0 {
                return status.f_flag & UInt(ST_RDONLY) != 0
            }
        }
        return false
    }

    static func translate(_ error: DatabaseError, path: String) -> PhotoIndexError {
        // (SQLite reports a shared-memory file it cannot grow, as on a full
        // disk, as an I/O error.)
        if error.resultCode == .SQLITE_FULL || error.extendedResultCode == .SQLITE_IOERR_SHMSIZE { return .diskFull(path: path) }
        if [.SQLITE_READONLY, .SQLITE_PERM, .SQLITE_CANTOPEN].contains(error.resultCode), onReadOnlyFileSystem(path) {
            return .databaseUnavailable(path: path, reason: "its file system is mounted read-only; indexing needs write access")
        }
        switch error.resultCode {
        case .SQLITE_NOTADB: return .notAnIndex(path: path)
        case .SQLITE_READONLY, .SQLITE_PERM:
            return .databaseUnavailable(path: path, reason: """
                it cannot be written (the file, its folder or their medium is read-only, or another user's): \
                searching works; indexing needs write access (\(error.message ?? "\(error.resultCode)"))
                """)
        case .SQLITE_CANTOPEN:
            return .databaseUnavailable(path: path, reason: """
                SQLite cannot open it or its journal beside it (\(error.message ?? "\(error.resultCode)")): \
                check that its folder exists and can be written
                """)
        case .SQLITE_CORRUPT:
            return .database(path: path, reason: """
                the database file is corrupt; move it aside and index again (photos are re-embedded), \
                or restore it from a backup
                """)
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
