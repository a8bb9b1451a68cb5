import CLIP
import FileAccess
import Foundation
import Imaging
import Synchronization

/// An index and the model that fills it: everything a program (the CLI, the
/// web server) does with photos — index folders, search by text or example,
/// find similar photos and duplicates, report status. Safe to share between
/// threads: searches run concurrently, indexing runs take the index's writer
/// lock.
///
/// Nothing is opened until a job needs it. Searching opens the existing index
/// and never creates one; indexing loads the image tower first (a broken
/// model leaves no empty index behind), then opens or creates the index.
public final class PhotoLibrary: Sendable {
    /// The index file, absolute.
    public let databasePath: String
    /// The model folder, or nil when there is none: searching by indexed
    /// photos, duplicates and status need no model.
    public let modelDirectory: String?
    let models: ModelLoader?

    private struct Opened {
        var database: IndexDatabase?
        /// With the database it was made on: a search that began on a file
        /// replaced since must not leave its searcher for the new file's.
        var searcher: (searcher: PhotoSearcher, database: IndexDatabase)?
    }

    private let opened = Mutex(Opened())

    /// With `prepared`, the model's towers are mapped ready-made from that
    /// cache (and prepared there on first use) instead of being packed from
    /// the weights by every run.
    public init(database path: String, model directory: String?, prepared: PreparedWeightsCache? = nil) {
        databasePath = FilePaths.absolute(path)
        modelDirectory = directory
        models = directory.map { ModelLoader(directory: $0, prepared: prepared) }
    }

    /// How many results, and which photos may be among them.
    public struct SearchOptions: Sendable, Equatable {
        /// 1 ... `maximumTop`.
        public var top: Int
        /// Leave out results whose cosine similarity is below this (-1 ... 1).
        public var minimumScore: Float?
        /// Leave out results less likely than this to match (0 ... 1,
        /// exclusive): SigLIP models and one-text queries only.
        public var minimumProbability: Float?
        public var filter: SearchFilter
        /// The cells of a partitioned index a search scans (1 ...
        /// `maximumProbes`; more: slower, finds more of the true best); nil:
        /// the standard choice. Without a partition, every photo is scanned.
        public var probes: Int?
        /// The results to pass over before the `top` returned: the next
        /// page of a search is `offset: top` (`offset + top` ≤ `maximumTop`).
        public var offset = 0

        /// How far down the ranking a search looks.
        public var reach: Int { offset + top }

        public static let maximumProbes = 1 << 20

        /// The most results one search returns: its candidates are kept in
        /// memory, and whoever asks (a web request too) must not choose how much.
        public static let maximumTop = 10_000

        public init(top: Int = 10, minimumScore: Float? = nil, minimumProbability: Float? = nil, filter: SearchFilter = SearchFilter(),
                    probes: Int? = nil) {
            self.top = top
            self.probes = probes
            self.minimumScore = minimumScore
            self.minimumProbability = minimumProbability
            self.filter = filter
        }

        /// Refuses a `top` or `minimumScore` out of range.
        public func validate() throws(PhotoIndexError) {
            guard (1...Self.maximumTop).contains(top) else {
                throw .invalidArgument(name: "top", reason: "\(top) is not between 1 and \(Self.maximumTop)")
            }
            guard offset >= 0, offset <= Self.maximumTop - top else {
                throw .invalidArgument(name: "offset", reason: "\(offset) is not between 0 and \(Self.maximumTop - top) (\(Self.maximumTop) results at most)")
            }
            if let probes, !(1...Self.maximumProbes).contains(probes) {
                throw .invalidArgument(name: "probes", reason: "\(probes) is not between 1 and \(Self.maximumProbes)")
            }
            if let minimumScore, !(minimumScore >= -1 && minimumScore <= 1) {
                throw .invalidArgument(name: "minimum score", reason: "\(minimumScore) is not between -1 and 1")
            }
            if let minimumProbability, !(minimumProbability > 0 && minimumProbability < 1) {
                throw .invalidArgument(name: "minimum probability", reason: "\(minimumProbability) is not between 0 and 1 (exclusive)")
            }
            if let after = filter.after, let before = filter.before, after >= before {
                throw .invalidArgument(name: "dates", reason: "after \(after) is not before \(before), so no photo can match")
            }
        }

        /// The score bar, with `minimumProbability` turned into the cosine
        /// that gives it: σ(scale·cos + bias) ≥ p ⇔ cos ≥ (logit(p) − bias) / scale.
        func scoreBar(_ calibration: MatchCalibration?) throws(PhotoIndexError) -> Float? {
            guard let minimumProbability else { return minimumScore }
            guard let calibration else {
                throw .invalidArgument(name: "minimum probability",
                                       reason: "only a SigLIP model's scores are match probabilities, and only for a query of one text")
            }
            let p = Double(minimumProbability)
            let cosine = Float((Foundation.log(p / (1 - p)) - Double(calibration.bias)) / Double(calibration.scale))
            return max(minimumScore ?? -.infinity, cosine)
        }

        /// The page asked for of the best `reach` results.
        func page(_ hits: [SearchHit]) -> [SearchHit] { Array(hits.dropFirst(offset)) }
    }

    /// How far below the best match a text query's result may score before
    /// it counts as a weaker match (`SearchHit.weaker`): ln(100)/100. CLIP
    /// models compare a text with photos at a temperature of 100 (the
    /// ceiling their trained logit scale reaches), so at this distance the
    /// model rates a photo a hundred times less likely than the best to be
    /// the one described. SigLIP models, whose scores are probabilities,
    /// count a result below 50 % as weaker instead.
    public static let weakerMargin = Float(Foundation.log(100.0) / 100)

    /// The photos the filters of `query` and `options` let through (the
    /// whole index without any): what a search ranks; `excluding` a photo
    /// (the one `similar(toPhoto:)` starts from, which it leaves out).
    public func count(_ query: SearchQuery = SearchQuery(parts: []), _ options: SearchOptions = SearchOptions(),
                      excluding photoID: Int64? = nil) throws(PhotoIndexError) -> Int {
        try searcher().count(query.filter(adding: options.filter), excluding: photoID)
    }

    // MARK: Searching

    /// One page of results, and `total`: the photos the filters let
    /// through, what was searched (as `count` gives it).
    public struct SearchPage: Sendable {
        public var hits: [SearchHit]
        public let total: Int
    }

    /// The photos that best match `query`, best first.
    public func search(_ query: SearchQuery, _ options: SearchOptions = SearchOptions()) throws(PhotoIndexError) -> [SearchHit] {
        try search(query, options, counting: false).hits
    }

    /// `search`, with the photos the filters let through. A filtered search
    /// counts them from the set it searched: counting apart would read every
    /// row again.
    public func searchPage(_ query: SearchQuery, _ options: SearchOptions = SearchOptions()) throws(PhotoIndexError) -> SearchPage {
        try search(query, options, counting: true)
    }

    /// (`total` is 0 unless `counting`.)
    private func search(_ query: SearchQuery, _ options: SearchOptions, counting: Bool) throws(PhotoIndexError) -> SearchPage {
        try options.validate()
        // A text query needs a model whatever the index holds: say so first.
        if !query.texts.isEmpty, models == nil { throw .noModel }
        let searcher = try searcher()
        let filter = query.filter(adding: options.filter)
        guard !query.parts.isEmpty else {
            // Filters alone: the photos they let through, newest first.
            if options.minimumScore != nil || options.minimumProbability != nil {
                throw .invalidArgument(name: "minimum score", reason: "a query of filters alone ranks nothing")
            }
            let hits = try searcher.browse(filter, top: options.reach)
            if hits.isEmpty, let name = query.fileName { throw .noSuchImage(path: name) }
            return SearchPage(hits: options.page(hits), total: counting ? try searcher.count(filter) : 0)
        }
        let (vector, _, calibration) = try QueryEncoder(searcher: searcher, models: models).vector(for: query)
        var ranking = try searcher.rank(vector, top: options.reach, minimumScore: try options.scoreBar(calibration), filter: filter,
                                        probes: options.probes)
        if let calibration {
            for index in ranking.hits.indices {
                ranking.hits[index].probability = calibration.probability(cosine: ranking.hits[index].score)
                ranking.hits[index].weaker = ranking.hits[index].probability! < 0.5
            }
        } else if query.imagePaths.isEmpty, let best = ranking.hits.first?.score {
            // (Judged against the best of all, not of this page.)
            for index in ranking.hits.indices { ranking.hits[index].weaker = ranking.hits[index].score < best - Self.weakerMargin }
        }
        return try page(ranking, options, counting: counting, searcher: searcher)
    }

    /// `options`' page of `ranking`, with its total when `counting` (0 otherwise).
    func page(_ ranking: PhotoSearcher.Ranking, _ options: SearchOptions, counting: Bool, searcher: PhotoSearcher,
              excluding photoID: Int64? = nil) throws(PhotoIndexError) -> SearchPage {
        var total = 0
        if counting {
            if let passing = ranking.passing { total = passing } else { total = try searcher.count(SearchFilter(), excluding: photoID) }
        }
        return SearchPage(hits: options.page(ranking.hits), total: total)
    }

    /// The photos `options.filter` lets through (all of them without one),
    /// newest first by the date results show, `options.top` of them after
    /// `cursor` (the last of the page before): a timeline to browse.
    public func timeline(_ options: SearchOptions = SearchOptions(), after cursor: TimelineCursor? = nil) throws(PhotoIndexError) -> [SearchHit] {
        try options.validate()
        if options.minimumScore != nil || options.minimumProbability != nil {
            throw .invalidArgument(name: "minimum score", reason: "a timeline ranks nothing")
        }
        if options.offset != 0 { throw .invalidArgument(name: "offset", reason: "a timeline's pages follow its cursor") }
        return try searcher().browse(options.filter, top: options.top, before: cursor)
    }

    /// The indexed photos most like the photo at `path`, indexed or not (its
    /// stored vector is used when it is indexed); the photo itself is left out.
    public func similar(to path: String, _ options: SearchOptions = SearchOptions()) throws(PhotoIndexError) -> [SearchHit] {
        try options.validate()
        let absolute = FilePaths.absolute(path)
        guard FilePaths.exists(absolute) else { throw .noSuchImage(path: path) }
        let searcher = try searcher()
        let query = SearchQuery(parts: [.init(term: .image(path: absolute), weight: 1)])
        let (vector, examples, _) = try QueryEncoder(searcher: searcher, models: models).vector(for: query)
        return options.page(try searcher.search(vector, top: options.reach, minimumScore: try options.scoreBar(nil), filter: options.filter,
                                                excluding: examples, probes: options.probes))
    }

    /// The photos nearest to an embedding in the index's space (normalised here).
    public func search(vector: [Float], _ options: SearchOptions = SearchOptions()) throws(PhotoIndexError) -> [SearchHit] {
        try options.validate()
        guard vector.allSatisfy({ $0.isFinite }) else {
            throw .invalidArgument(name: "vector", reason: "it holds values that are not finite numbers")
        }
        let searcher = try searcher()
        guard vector.count == searcher.model.embeddingSize else {
            throw .embeddingSizeMismatch(index: searcher.model.embeddingSize, given: vector.count, indexModel: searcher.model.name)
        }
        return options.page(try searcher.search(vector, top: options.reach, minimumScore: try options.scoreBar(nil), filter: options.filter,
                                                probes: options.probes))
    }

    /// The languages the model answers queries in, `QueryLanguages`' raw
    /// value ("english", "chinese-english", "multilingual"; its text tower
    /// loaded, as the first text search would), or nil without a model or
    /// an index.
    public func queryLanguages() throws(PhotoIndexError) -> String? {
        guard let models else { return nil }
        let searcher: PhotoSearcher
        do {
            searcher = try self.searcher()
        } catch .indexNotFound, .emptyIndex {
            return nil
        }
        return try models.model(with: .text, precision: searcher.model.precision).queryLanguages?.rawValue
    }

    /// Refuses a model other than the one the index holds, as a search
    /// would, without loading it (a server checks this before it starts).
    /// Nothing to check without a model, an index or a vector in it.
    public func verifyModel() throws(PhotoIndexError) {
        guard let models else { return }
        let searcher: PhotoSearcher
        do {
            searcher = try self.searcher()
        } catch .indexNotFound, .emptyIndex {
            return
        }
        try searcher.verify(try models.identity(known: [searcher.model]))
    }

    /// Groups of photos (all of them, or those under `folder`) in which any
    /// two have embeddings of cosine similarity ≥ `threshold`: from 20 000
    /// photos and a threshold of 0.9, pairs are looked for among nearby
    /// vectors only (`DuplicateFinder`); `exact` compares all pairs.
    public func duplicates(threshold: Float, exact: Bool = false, in folder: String? = nil) throws(PhotoIndexError) -> [DuplicateGroup] {
        guard threshold > -1, threshold <= 1 else {
            throw .invalidArgument(name: "threshold", reason: "\(threshold) is not in (-1, 1]")
        }
        return try DuplicateFinder(searcher: try searcher()).groups(threshold: threshold, exact: exact,
                                                                    under: folder.map { FilePaths.absolute($0) })
    }

    /// `duplicates`, and the photo pairs it linked (by photo id) before
    /// grouping them: what `photosearch-bench duplicates` compares between
    /// the methods.
    package func duplicatesAndLinks(threshold: Float, exact: Bool = false) throws(PhotoIndexError)
        -> (groups: [DuplicateGroup], links: [(Int64, Int64)]) {
        let finder = DuplicateFinder(searcher: try searcher())
        var (ids, links) = try finder.links(threshold: threshold, exact: exact)
        let pairs = links.pairs.map { (ids[$0.0], ids[$0.1]) }
        return (try finder.groups(ids, &links), pairs)
    }

    /// What the index holds and how its last run went.
    public func status(failureLimit: Int = 20) throws(PhotoIndexError) -> IndexStatus {
        try IndexStatus.read(try database(create: false), failureLimit: failureLimit)
    }

    /// Indexed photos without the index's model's embeddings, which searches
    /// miss: what a stopped `index --replace-model` leaves until a run embeds
    /// them (0 otherwise, and without an index).
    public func photosWithoutEmbeddings() throws(PhotoIndexError) -> Int {
        let database: IndexDatabase
        do {
            database = try self.database(create: false)
        } catch .indexNotFound {
            return 0
        }
        let counts = try database.read { db in try IndexStatus.counts(db) }
        return max(0, counts.indexed - counts.embedded)
    }

    // MARK: Indexing

    /// Indexes `options.roots` once, under the index's writer lock (another
    /// writer: `writerBusy` at once). Photos that cannot be read are reported
    /// through `events` and recorded, not thrown.
    @discardableResult
    public func index(_ options: IndexingOptions, cancellation: CancellationFlag = CancellationFlag(),
                      events: (IndexEvent) -> Void = { _ in }) throws(PhotoIndexError) -> IndexSummary {
        try options.validate()
        guard let models else { throw .noModel }
        // Another writer: say so at once, before any work on the model (the
        // lock itself is taken below, once the database exists).
        let path = databasePath
        if let holder = WriterLock.holder(indexPath: path), holder != getpid() {
            throw .writerBusy(path: path, holder: "process \(holder)")
        }
        // Another model's index, or another precision's, is refused before
        // the model is loaded (or prepared, which takes a while and says so).
        if !options.replaceModel, let existing = try? database(create: false).currentModel() {
            let identity = try models.identity(known: [existing])
            if existing.checksum != identity.checksum || existing.precision != options.precision {
                throw Indexer.refusal(index: existing, identity: identity, precision: options.precision)
            }
        }
        let model = try models.model(with: .image, precision: options.precision)
        try models.checkTextTower(precision: options.precision)
        let database = try database(create: true)
        let summary = try { () throws(PhotoIndexError) -> IndexSummary in
            let lock = try WriterLock(indexPath: database.path)
            defer { withExtendedLifetime(lock) {} }
            database.compactIfNeeded()
            let known = try database.currentModel().map { [$0] } ?? []
            let identity = try models.identity(embeddingSize: model.embeddingSize, known: known)
            let summary = try Indexer(database: database, model: model, identity: identity)
                .run(options, cancellation: cancellation, events: events)
            try database.checkpoint()
            if !cancellation.isCancelled, summary.added + summary.updated > 0 {
                // A vector file the run left far behind is written again here,
                // not by the next search (which does it if this fails).
                try? PhotoSearcher(database: database).refreshStaleFile()
            }
            return summary
        }()
        // Once the writer lock is free: another indexer may start as soon as it is said.
        events(.finished(summary))
        return summary
    }

    /// Indexes, then again after each `interval` seconds, until `cancellation`
    /// is set (for a service). A run that cannot start (another writer) or
    /// stops on an error is reported as `.runFailed` and the next one comes
    /// after the interval; what no later run can fix (no model, a model other
    /// than the index's) is thrown. Only the first run replaces another
    /// model's vectors.
    public func indexRepeatedly(_ options: IndexingOptions, every interval: Double, cancellation: CancellationFlag,
                                events: (IndexEvent) -> Void) throws(PhotoIndexError) {
        guard IndexingOptions.intervalRange.contains(interval) else {
            throw .invalidArgument(name: "interval", reason: "\(interval) s is not between 1 s and 366 days")
        }
        var options = options
        while !cancellation.isCancelled {
            do {
                try index(options, cancellation: cancellation, events: events)
            } catch {
                if Self.isPermanent(error) { throw error }
                events(.runFailed(error))
            }
            // Closed while it waits (each run opens it again): a backup
            // copied over the file in the meantime met this process's cached
            // pages and write-ahead index at the next run, and SQLite wrote
            // them into it (integrity_check failed).
            closeIndex()
            options.replaceModel = false
            if cancellation.isCancelled || cancellation.sleep(seconds: interval) { break }
        }
    }

    private static func isPermanent(_ error: PhotoIndexError) -> Bool {
        switch error {
        case .noModel, .model, .cannotReadModel, .modelMismatch, .embeddingSizeMismatch, .precisionMismatch, .notAnIndex: return true
        default: return false
        }
    }

    // MARK: Opening

    /// The index, opened on first use: for writing (created when missing) or
    /// for reading (read-only when it cannot be written). An index opened
    /// read-only is opened again when a job needs to write; one deleted or
    /// replaced since it was opened (a backup restored over it) is opened
    /// again from its path, as a new process would: a server or an
    /// `index --every` that outlives the file follows the path, where it
    /// wrote into the deleted file and searched the old one.
    package func database(create: Bool) throws(PhotoIndexError) -> IndexDatabase {
        try opened.withLock { opened throws(PhotoIndexError) -> IndexDatabase in
            if let database = opened.database, !(create && database.isReadOnly) {
                if database.isStillAtPath { return database }
                // (Let go before opening again: a deleted index stays unopened.)
                opened = Opened()
            }
            let database = try IndexDatabase(path: databasePath, access: create ? .write : .read)
            opened.database = database
            return database
        }
    }

    /// Lets the open index go: the next job opens it again from its path.
    /// (A search still running keeps the connections it holds until it ends.)
    func closeIndex() {
        opened.withLock { $0 = Opened() }
    }

    /// The model an index holds vectors of, as a job without a model named
    /// finds it again: so that an index keeps its model whatever the
    /// default model is (`indexedModel(database:)`).
    public struct IndexedModel: Sendable, Equatable {
        /// Its name when it filled the index: an installed model's, or its
        /// folder's.
        public let name: String
        /// The folder its weights were last read from, while they are still
        /// there (nil: moved or removed since).
        public let folder: String?
    }

    /// The model the index at `path` holds vectors of; nil when there is no
    /// index there that can be read, or it holds none yet (the job itself
    /// then says what is wrong, if anything).
    public static func indexedModel(database path: String) -> IndexedModel? {
        guard let database = try? IndexDatabase(path: path, access: .read),
              let record = try? database.read({ db in try ModelRecord.current(db) }) else { return nil }
        let folder = record.weightsPath.flatMap { weights -> String? in
            guard let status = FilePaths.status(weights), (status.st_mode & S_IFMT) == S_IFREG else { return nil }
            return FilePaths.deletingLastComponent(weights)
        }
        return IndexedModel(name: record.name, folder: folder)
    }

    /// The search side of the index, made once it holds vectors, and made
    /// again when the index's model has changed since (another process ran
    /// `index --replace-model`): a long-running server follows the index.
    func searcher() throws(PhotoIndexError) -> PhotoSearcher {
        let database = try database(create: false)
        let current = try database.read { db in try ModelRecord.current(db) }
        return try opened.withLock { opened throws(PhotoIndexError) -> PhotoSearcher in
            if let (searcher, built) = opened.searcher, built === database, searcher.model == current { return searcher }
            let searcher = try PhotoSearcher(database: database)
            // Kept only while it is the index's open database (not one a
            // concurrent call has since replaced).
            if opened.database === database { opened.searcher = (searcher, database) }
            return searcher
        }
    }
}
