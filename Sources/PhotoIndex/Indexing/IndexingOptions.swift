import CLIP
import Compute
import Imaging

/// How to run an index.
public struct IndexingOptions: Sendable {
    /// Folders (or single files) to index.
    public var roots: [String]
    public var excludes: [String] = []
    /// Threads decoding and preprocessing photos.
    public var jobs: Int = min(Parallel.cores, IndexingOptions.jobsRange.upperBound)
    /// Photos per encoder batch, and per committed transaction.
    public var batchSize: Int = 16
    public var maximumPixels: Int = ImageDecoder.defaultMaximumPixels
    /// Drop the embeddings of a different model (or precision) and re-embed everything.
    public var replaceModel = false
    /// Let a root that holds no photos now remove the index's photos from
    /// it; otherwise the run is refused (`rootEmptied`), as an unmounted
    /// drive's empty mount point would empty the index.
    public var allowEmptyRoots = false
    /// The encoder's arithmetic (see `Precision`): int8 unless told otherwise.
    public var precision: Precision = .int8
    /// Called between the scan and the decoding (tests use it to change files mid-run).
    var afterScan: (@Sendable () -> Void)?

    public init(roots: [String]) {
        self.roots = roots
    }

    /// Decoding threads allowed: each holds a decoded photo in memory.
    public static let jobsRange = 1...64
    /// Photos per batch allowed: a batch's pixels are held at once.
    public static let batchSizeRange = 1...256
    /// Seconds between runs of `indexRepeatedly`: one second to 366 days.
    public static let intervalRange = 1.0...(366 * 86400.0)

    /// Refuses thread counts and batch sizes out of range.
    public func validate() throws(PhotoIndexError) {
        guard Self.jobsRange.contains(jobs) else {
            throw .invalidArgument(name: "jobs", reason: "\(jobs) is not between 1 and \(Self.jobsRange.upperBound)")
        }
        guard Self.batchSizeRange.contains(batchSize) else {
            throw .invalidArgument(name: "batch size", reason: "\(batchSize) is not between 1 and \(Self.batchSizeRange.upperBound)")
        }
        guard roots.allSatisfy({ !$0.isEmpty }) else {
            throw .invalidArgument(name: "folder", reason: "an empty path")
        }
    }
}

/// What one run did; also the last line of `photosearch index --json`.
public struct IndexSummary: Sendable, Equatable, Codable {
    public var scanned = 0
    public var added = 0
    public var updated = 0
    public var unchanged = 0
    public var moved = 0
    public var removed = 0
    public var failed = 0
    /// Found by the scan but gone when read (not recorded: the next run
    /// looks again). Not kept in the run's record.
    public var vanished = 0
    /// Of the unchanged photos, those an earlier run failed on: not read
    /// again, and still listed by `status`. Not kept in the run's record.
    public var failedBefore = 0
    public var seconds = 0.0
    /// True when the run was stopped (signal) before it finished.
    public var interrupted = false

    // (`index --json`'s summary: snake_case, as every other key there.)
    private enum CodingKeys: String, CodingKey {
        case scanned, added, updated, unchanged, moved, removed, failed, vanished, failedBefore = "failed_before", seconds, interrupted
    }

    public init(scanned: Int = 0, added: Int = 0, updated: Int = 0, unchanged: Int = 0, moved: Int = 0, removed: Int = 0,
                failed: Int = 0, vanished: Int = 0, seconds: Double = 0, interrupted: Bool = false) {
        (self.scanned, self.added, self.updated, self.unchanged) = (scanned, added, updated, unchanged)
        (self.moved, self.removed, self.failed, self.vanished) = (moved, removed, failed, vanished)
        (self.seconds, self.interrupted) = (seconds, interrupted)
    }
}

public struct IndexProgress: Sendable, Equatable {
    public var done: Int
    public var total: Int
    public var failed: Int
    /// Photos decoded and embedded per second since processing began.
    public var imagesPerSecond: Double
    public var etaSeconds: Double?
}

/// What an indexing run reports as it goes.
public enum IndexEvent: Sendable {
    /// The scan is over: `files` photos found, `toProcess` of them new or changed.
    case scanned(files: Int, toProcess: Int)
    case progress(IndexProgress)
    /// A photo could not be indexed; it is recorded and tried again once it changes.
    case failed(path: String, reason: String)
    case unreadableFolder(path: String, reason: String)
    /// The scan found no photo at all; `otherFiles` files of other kinds
    /// were there (hidden and excluded ones not counted).
    case noPhotos(otherFiles: Int)
    /// The run ended, completed or interrupted, and the index is free for another writer.
    case finished(IndexSummary)
    /// With `PhotoLibrary.indexRepeatedly`: a run could not start (another
    /// writer) or stopped on an error; the next one comes after the interval.
    case runFailed(PhotoIndexError)
}
