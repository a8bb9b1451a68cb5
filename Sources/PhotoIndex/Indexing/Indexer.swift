import CLIP
import Compute
import FileAccess
import Foundation
import GRDB
import Imaging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Indexes folders of photos into an `IndexDatabase` with one model.
///
/// A run scans the folders, compares them with the index (size and mtime),
/// and sends new and changed files through a pipeline: `jobs` threads read,
/// hash, decode (JPEG at the smallest sufficient DCT scale) and preprocess;
/// the calling thread embeds them in batches and commits each batch in one
/// transaction. A queue of fixed capacity between the two bounds memory. A
/// file whose content the index already holds (moved, renamed or copied) keeps
/// that embedding without being decoded. Files gone from disk are removed at
/// the end of a complete run, and the photos' places are derived from their
/// positions (`PlaceAssignment`).
final class Indexer: Sendable {
    let database: IndexDatabase
    let model: CLIPModel
    let identity: ModelIdentity

    init(database: IndexDatabase, model: CLIPModel, identity: ModelIdentity) {
        precondition(model.hasImageTower, "indexing needs the image tower")
        self.database = database
        self.model = model
        self.identity = identity
    }

    // MARK: Work

    enum Kind: Sendable { case add, update }

    struct WorkItem: Sendable {
        var file: ScannedFile
        var kind: Kind
    }

    struct ContentKey: Hashable, Sendable {
        var hash: String
        var size: Int64
    }

    enum WorkResult: Sendable {
        /// Decoded and preprocessed, waiting for the encoder.
        case image(WorkItem, pixels: [Float], photo: PhotoFacts)
        /// Encoded: the L2-normalised vector to store.
        case embedded(WorkItem, vector: [Float], photo: PhotoFacts)
        case moved(WorkItem, from: Int64, hash: String)
        case copied(WorkItem, from: Int64, hash: String)
        case failed(WorkItem, reason: String, hash: String?)
        /// Found by the scan, gone when it was read (deleted, or moved with
        /// its folder, during the run): nothing is recorded, and the next
        /// run looks again.
        case vanished(WorkItem)
    }

    /// What the decoder learnt about a photo.
    struct PhotoFacts: Sendable {
        var hash: String
        var size: Int64
        var width: Int
        var height: Int
        var metadata: PhotoMetadata
        /// The photo as a small JPEG (`Thumbnail`), from the decoded image.
        var thumbnail: [UInt8]?
    }

    private struct ExistingPhoto: Sendable {
        var id: Int64
        var path: String
        var size: Int64
        var modifiedAt: Int64
        var state: PhotoRecord.State
        var contentHash: String?
        var embedded: Bool
        /// Failed because it could not be opened or read: tried every run,
        /// since that can change without the file changing (chmod keeps the
        /// modification time).
        var unreadable: Bool
    }

    /// Everything the decoding threads share.
    private final class SharedWork: Sendable {
        let items: [WorkItem]
        let next = Mutex(0)
        let movable: [ContentKey: Int64]
        let claimed = Mutex(Set<Int64>())

        init(items: [WorkItem], movable: [ContentKey: Int64]) {
            self.items = items
            self.movable = movable
        }

        func nextItem() -> WorkItem? {
            next.withLock { index in
                guard index < items.count else { return nil }
                defer { index += 1 }
                return items[index]
            }
        }

        /// The moved-away photo with this content, claimed for the caller.
        func claimMove(_ key: ContentKey) -> Int64? {
            guard let id = movable[key] else { return nil }
            return claimed.withLock { $0.insert(id).inserted } ? id : nil
        }
    }

    // MARK: Running

    /// Indexes `options.roots`. Returns what changed; throws for problems that
    /// stop the run (a missing root, another model's index, a full disk).
    /// Photos that cannot be read are recorded as failed and reported through
    /// `events`, not thrown.
    func run(_ options: IndexingOptions, cancellation: CancellationFlag = CancellationFlag(),
             events: (IndexEvent) -> Void = { _ in }) throws(PhotoIndexError) -> IndexSummary {
        let started = DispatchTime.now()
        func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9 }

        let roots = options.roots.map { FilePaths.absolute($0) }
        // A root that is gone while others are there, and that holds indexed
        // photos (a drive not plugged in), keeps them, as an unreadable
        // folder does, and the others are indexed (it blocked every root).
        // One that never held any (a typo), or every root gone, is refused
        // before anything is scanned.
        let gone = roots.filter { !FilePaths.exists($0) }
        for root in gone {
            if gone.count == roots.count { throw .rootNotFound(path: root) }
            if try photoCount(under: root) == 0 { throw .rootNotFound(path: root) }
        }
        var scan = PhotoScanner(excludes: options.excludes).scan(roots: roots)
        let present = roots.filter { !scan.missingRoots.contains($0) }
        for root in scan.missingRoots {
            // Inside a root that is there, it is a folder deleted, not a drive
            // away (kept, its photos were kept for ever): refused below as an
            // emptied root is, unless --allow-empty.
            if present.contains(where: { FilePaths.isWithin(root, folder: $0) }) { continue }
            let held = try photoCount(under: root)
            let kept = held == 0 ? "" : "; its \(held) photo\(held == 1 ? " is" : "s are") kept"
            scan.unreadableFolders.append((root, "it does not exist now (a drive not mounted?)" + kept))
        }
        for folder in scan.unreadableFolders { events(.unreadableFolder(path: folder.path, reason: folder.reason)) }
        if !options.allowEmptyRoots {
            for root in roots {
                // (A root that cannot be read is reported, and its photos kept, as any unreadable folder's.)
                guard !scan.files.contains(where: { FilePaths.isWithin($0.path, folder: root) }),
                      !scan.unreadableFolders.contains(where: { $0.path == root }) else { continue }
                let held = try photoCount(under: root)
                if held > 0 { throw .rootEmptied(path: root, photos: held) }
            }
        }
        // Only now, when nothing refused the run, may another model's vectors go.
        let modelID = try registerModel(replace: options.replaceModel)
        if scan.files.isEmpty { events(.noPhotos(otherFiles: scan.otherFiles)) }

        var run = RunRecord(startedAt: Timestamp.now(), status: .running, roots: roots.joined(separator: "\n"))
        try database.write { db in
            // We hold the writer lock, so a run still marked running was killed.
            try db.execute(sql: "UPDATE runs SET status = 'interrupted', finished_at = ? WHERE status = 'running'",
                           arguments: [Timestamp.now()])
            try run.insert(db)
        }

        var summary = IndexSummary()
        summary.scanned = scan.files.count
        do {
            try process(scan: scan, roots: roots, modelID: modelID, options: options, cancellation: cancellation,
                        summary: &summary, started: started, events: events)
            if !cancellation.isCancelled { try PlaceAssignment.update(database, cancellation: cancellation) }
        } catch {
            run.status = .failed
            run.error = error.localizedDescription
            finish(&run, summary, seconds: elapsed())
            throw error
        }
        summary.seconds = elapsed()
        summary.interrupted = cancellation.isCancelled
        run.status = summary.interrupted ? .interrupted : .completed
        finish(&run, summary, seconds: summary.seconds)
        return summary
    }

    private func finish(_ run: inout RunRecord, _ summary: IndexSummary, seconds: Double) {
        run.finishedAt = Timestamp.now()
        run.summary = summary
        run.summary.seconds = seconds
        let record = run
        // Best effort: with a full disk even this may fail, and the run stays
        // "running" until the next run marks it interrupted.
        _ = try? database.write { db in try record.update(db) }
    }

    /// The model's row; refuses an index that holds another model's vectors
    /// unless `replace`, which deletes them.
    /// Why an index of `index`'s vectors refuses a run with the model of
    /// `identity` in `precision`: another size, another precision of the
    /// same weights, or another model.
    static func refusal(index: ModelRecord, identity: ModelIdentity, precision: Precision) -> PhotoIndexError {
        if index.embeddingSize != identity.embeddingSize {
            return .embeddingSizeMismatch(index: index.embeddingSize, given: identity.embeddingSize, indexModel: index.name)
        }
        if index.checksum == identity.checksum { return .precisionMismatch(index: index.precision, given: precision) }
        return .modelMismatch(index: "\(index.name) (\(index.checksum))", given: "\(identity.name) (\(identity.checksum))")
    }

    private func registerModel(replace: Bool) throws(PhotoIndexError) -> Int64 {
        try database.write { db -> Int64 in
            let models = try ModelRecord.fetchAll(db)
            if let existing = models.first(where: { $0.checksum == identity.checksum && $0.precision == model.precision }) {
                var updated = existing
                updated.weightsPath = identity.weightsPath
                updated.weightsSize = identity.weightsSize
                updated.weightsModifiedAt = identity.weightsModifiedAt
                try updated.update(db)
                return existing.id!
            }
            if let other = models.first {
                guard replace else { throw Self.refusal(index: other, identity: identity, precision: model.precision) }
                try db.execute(sql: "DELETE FROM models")      // embeddings go with them (ON DELETE CASCADE)
            }
            var record = ModelRecord(name: identity.name, embeddingSize: identity.embeddingSize, precision: model.precision,
                                     checksum: identity.checksum,
                                     weightsPath: identity.weightsPath, weightsSize: identity.weightsSize,
                                     weightsModifiedAt: identity.weightsModifiedAt, createdAt: Timestamp.now())
            try record.insert(db)
            return record.id!
        }
    }

    private func process(scan: ScanResult, roots: [String], modelID: Int64, options: IndexingOptions,
                         cancellation: CancellationFlag, summary: inout IndexSummary, started: DispatchTime,
                         events: (IndexEvent) -> Void) throws(PhotoIndexError) {
        // 1. Compare the scan with what the index holds under the roots.
        let existing = try existingPhotos(under: roots, modelID: modelID)
        var work: [WorkItem] = []
        let seen = Set(scan.files.map(\.path))
        for file in scan.files {
            if let row = existing[file.path] {
                let same = row.size == file.size && row.modifiedAt == file.modifiedAt
                if same && ((row.state == .failed && !row.unreadable) || row.embedded) {
                    summary.unchanged += 1
                    if row.state == .failed { summary.failedBefore += 1 }
                } else {
                    work.append(WorkItem(file: file, kind: .update))
                }
            } else {
                work.append(WorkItem(file: file, kind: .add))
            }
        }
        let missing = existing.values.filter { row in
            !seen.contains(row.path) && !scan.unreadableFolders.contains { FilePaths.isWithin(row.path, folder: $0.path) }
        }
        var movable: [ContentKey: Int64] = [:]
        for row in missing where row.embedded || row.state == .failed {
            if let hash = row.contentHash { movable[ContentKey(hash: hash, size: row.size)] = row.id }
        }
        events(.scanned(files: scan.files.count, toProcess: work.count))
        options.afterScan?()

        // 2. Decode on `jobs` threads, embed and commit here.
        let shared = SharedWork(items: work, movable: movable)
        let jobs = max(1, min(options.jobs, max(work.count, 1)))
        let queue = BoundedQueue<WorkResult>(capacity: max(2 * options.batchSize, 2 * jobs), producers: jobs)
        let workers = DispatchGroup()
        let decoder = ImageDecoder(maximumPixels: options.maximumPixels)
        let stop = CancellationFlag()          // set when this run ends early for any reason
        for _ in 0..<jobs {
            workers.enter()
            let thread = Thread { [self] in
                defer { queue.finish(); workers.leave() }
                while !cancellation.isCancelled, !stop.isCancelled, let item = shared.nextItem() {
                    guard queue.put(self.prepare(item, shared: shared, decoder: decoder, modelID: modelID)) else { return }
                }
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        defer {
            stop.cancel()
            queue.close()
            workers.wait()
        }

        var batch: [WorkResult] = []
        var images = 0
        var done = 0
        let processingStarted = DispatchTime.now()
        var encoded = 0
        func flush() throws(PhotoIndexError) {
            guard !batch.isEmpty else { return }
            encoded += try commit(batch, modelID: modelID, summary: &summary, events: events)
            done += batch.count
            batch.removeAll(keepingCapacity: true)
            images = 0
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - processingStarted.uptimeNanoseconds) / 1e9
            let rate = seconds > 0 ? Double(done) / seconds : 0
            events(.progress(IndexProgress(done: done, total: work.count, failed: summary.failed,
                                           imagesPerSecond: seconds > 0 ? Double(encoded) / seconds : 0,
                                           etaSeconds: rate > 0 ? Double(work.count - done) / rate : nil)))
        }
        while let result = queue.take() {
            if cancellation.isCancelled { break }
            batch.append(result)
            if case .image = result { images += 1 }
            if images >= options.batchSize || batch.count >= max(256, 8 * options.batchSize) {
                try flush()
            }
        }
        if cancellation.isCancelled {
            return   // the batch in flight is dropped whole; nothing of it was written
        }
        try flush()

        // 3. Photos no longer on disk (and not moved) leave the index.
        let claimed = shared.claimed.withLock { $0 }
        let gone = missing.map(\.id).filter { !claimed.contains($0) }
        if !gone.isEmpty {
            try database.write { db in
                for chunk in stride(from: 0, to: gone.count, by: 500) {
                    let ids = Array(gone[chunk..<min(chunk + 500, gone.count)])
                    try db.execute(sql: "DELETE FROM photos WHERE id IN (\(ids.map { _ in "?" }.joined(separator: ",")))",
                                   arguments: StatementArguments(ids))
                }
            }
            summary.removed = gone.count
        }
    }

    /// The photos the index has at or under `root`.
    private func photoCount(under root: String) throws(PhotoIndexError) -> Int {
        let range = SearchFilter.paths(under: root)
        return try database.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM photos WHERE (path >= ? AND path < ?) OR path = ?",
                             arguments: [range.from, range.before, root]) ?? 0
        }
    }

    private func existingPhotos(under roots: [String], modelID: Int64) throws(PhotoIndexError) -> [String: ExistingPhoto] {
        try database.read { db in
            var result: [String: ExistingPhoto] = [:]
            for root in roots {
                let prefix = root == "/" ? "/" : root + "/"
                let rows = try Row.fetchCursor(db, sql: """
                    SELECT p.id, p.path, p.size, p.modified_at, p.state, p.content_hash,
                           EXISTS (SELECT 1 FROM embeddings e WHERE e.photo_id = p.id AND e.model_id = ?) AS embedded,
                           p.state = 'failed' AND p.content_hash IS NULL AND substr(p.last_error, 1, ?) = ? AS unreadable
                    FROM photos p
                    WHERE p.path = ? OR substr(p.path, 1, ?) = ?
                    """, arguments: [modelID, ImagingError.cannotReadPrefix.count, ImagingError.cannotReadPrefix,
                                      root, prefix.unicodeScalars.count, prefix])
                while let row = try rows.next() {
                    let photo = ExistingPhoto(id: row["id"], path: row["path"], size: row["size"], modifiedAt: row["modified_at"],
                                              state: row["state"], contentHash: row["content_hash"], embedded: row["embedded"],
                                              unreadable: row["unreadable"])
                    result[photo.path] = photo
                }
            }
            return result
        }
    }

    /// Runs on a decoding thread: read (a regular file that starts like an
    /// image, checked before the rest is read), hash, and either reuse an
    /// embedding for the same content or decode and preprocess.
    private func prepare(_ item: WorkItem, shared: SharedWork, decoder: ImageDecoder, modelID: Int64) -> WorkResult {
        let file: PhotoFile
        do {
            file = try decoder.read(path: item.file.path)
        } catch {
            if case .cannotRead = error, !FilePaths.exists(item.file.path) { return .vanished(item) }
            return .failed(item, reason: error.reason, hash: nil)
        }
        let hash = ContentHash.hex(ContentHash.xxh64(file.bytes))
        let key = ContentKey(hash: hash, size: Int64(file.bytes.count))
        if item.kind == .add, let from = shared.claimMove(key) {
            return .moved(item, from: from, hash: hash)
        }
        if let from = try? database.read({ db in
            try Int64.fetchOne(db, sql: """
                SELECT p.id FROM photos p JOIN embeddings e ON e.photo_id = p.id AND e.model_id = ?
                WHERE p.content_hash = ? AND p.size = ? AND p.state = 'indexed' AND p.path != ? LIMIT 1
                """, arguments: [modelID, hash, key.size, item.file.path])
        }) {
            return .copied(item, from: from, hash: hash)
        }
        do {
            let photo = try decoder.decode(file, minimumShortSide: model.configuration.vision.imageSize)
            let swaps = photo.metadata.orientation.swapsDimensions && photo.format != .heif
            let facts = PhotoFacts(hash: hash, size: key.size,
                                   width: swaps ? photo.storedHeight : photo.storedWidth,
                                   height: swaps ? photo.storedWidth : photo.storedHeight,
                                   metadata: photo.metadata, thumbnail: try? Thumbnail.jpeg(photo.bitmap))
            return .image(item, pixels: model.preprocessor.pixelValues(photo.bitmap), photo: facts)
        } catch {
            return .failed(item, reason: error.reason, hash: hash)
        }
    }

    /// Embeds the batch's images and writes the whole batch in one
    /// transaction. Returns how many images were encoded.
    private func commit(_ prepared: [WorkResult], modelID: Int64, summary: inout IndexSummary,
                        events: (IndexEvent) -> Void) throws(PhotoIndexError) -> Int {
        var pixels: [Float] = []
        var imageCount = 0
        for case let .image(_, values, _) in prepared {
            pixels += values
            imageCount += 1
        }
        var vectors = (imageCount == 0 ? [] : model.encode(pixelValues: pixels, count: imageCount)).makeIterator()
        // A vector that is not finite (a damaged model, or an input it cannot
        // take) is never stored: the photo fails, with the reason.
        let batch = prepared.map { result -> WorkResult in
            guard case let .image(item, _, photo) = result else { return result }
            let vector = vectors.next()!
            guard vector.allSatisfy({ $0.isFinite }) else {
                return .failed(item, reason: "the model's embedding of it is not finite (NaN or infinity): is the model damaged?",
                               hash: photo.hash)
            }
            return .embedded(item, vector: VectorMath.normalized(vector), photo: photo)
        }
        let now = Timestamp.now()
        var counts = IndexSummary()
        try database.write { db in
            for result in batch {
                switch result {
                case .image:
                    preconditionFailure("every image was encoded above")
                case let .embedded(item, vector, photo):
                    let metadata = photo.metadata
                    var record = PhotoRecord.indexed(
                        path: item.file.path, size: photo.size, modifiedAt: item.file.modifiedAt, contentHash: photo.hash,
                        width: photo.width, height: photo.height, takenAt: metadata.takenAt, camera: metadata.camera,
                        latitude: metadata.latitude, longitude: metadata.longitude, now: now)
                    let id = try record.save(db)
                    try EmbeddingRecord(photoID: id, modelID: modelID, vector: VectorBlob.data(vector)).insert(db)
                    try ThumbnailRecord.set(photo.thumbnail, for: id, db)
                    count(item, into: &counts)
                case let .copied(item, from, hash):
                    guard let source = try PhotoRecord.fetchOne(db, key: from) else { break }
                    var record = source.copied(to: item.file.path, size: item.file.size, modifiedAt: item.file.modifiedAt, now: now)
                    record.contentHash = hash
                    let id = try record.save(db)
                    if var embedding = try EmbeddingRecord.fetchOne(db, key: ["photo_id": from, "model_id": modelID]) {
                        embedding.photoID = id
                        try embedding.insert(db)
                    }
                    try ThumbnailRecord.set(try ThumbnailRecord.fetchOne(db, key: from).map { [UInt8]($0.jpeg) }, for: id, db)
                    count(item, into: &counts)
                case let .moved(item, from, _):
                    guard var record = try PhotoRecord.fetchOne(db, key: from) else { break }
                    record.path = item.file.path
                    record.size = item.file.size
                    record.modifiedAt = item.file.modifiedAt
                    record.updatedAt = now
                    try record.update(db)
                    counts.moved += 1
                case let .failed(item, reason, hash):
                    var record = PhotoRecord.failed(path: item.file.path, size: item.file.size, modifiedAt: item.file.modifiedAt,
                                                    contentHash: hash, reason: reason, now: now)
                    let id = try record.save(db)
                    // A changed file that no longer decodes must not keep its old embedding.
                    _ = try EmbeddingRecord.filter(Column(EmbeddingRecord.CodingKeys.photoID) == id).deleteAll(db)
                    try ThumbnailRecord.set(nil, for: id, db)
                    counts.failed += 1
                case .vanished:
                    counts.vanished += 1
                }
            }
        }
        summary.added += counts.added
        summary.updated += counts.updated
        summary.moved += counts.moved
        summary.failed += counts.failed
        summary.vanished += counts.vanished
        for case let .failed(item, reason, _) in batch {
            events(.failed(path: item.file.path, reason: reason))
        }
        return imageCount
    }

    private func count(_ item: WorkItem, into counts: inout IndexSummary) {
        switch item.kind {
        case .add: counts.added += 1
        case .update: counts.updated += 1
        }
    }
}
