import Foundation
import PhotoIndex
import Synchronization

/// What the server's own scheduled indexing is doing, for /api/status and
/// the page: updated from the indexing thread, read by requests.
public final class IndexingState: Sendable {
    public struct Snapshot: Encodable, Sendable, Equatable {
        /// "scanning", "indexing", "waiting" (for the next run), "failed"
        /// (the last run; the next one comes), or "stopped" (for good:
        /// what no run can fix, such as another model's index; no next run).
        public var state: String
        public var done: Int
        public var total: Int
        public var failed: Int
        /// The last run's error, when it failed.
        public var error: String?
        /// When the next run starts: ISO 8601 in UTC, as the runs' own times.
        public var nextRunAt: String?

        enum CodingKeys: String, CodingKey { case state, done, total, failed, error, nextRunAt = "next_run_at" }
    }

    private let current = Mutex(Snapshot(state: "scanning", done: 0, total: 0, failed: 0))
    let interval: Double

    public init(interval: Double) {
        self.interval = interval
    }

    public func snapshot() -> Snapshot { current.withLock { $0 } }

    /// Follows one event of `PhotoLibrary.indexRepeatedly`.
    public func handle(_ event: IndexEvent) {
        current.withLock { state in
            switch event {
            case let .scanned(_, toProcess):
                state = Snapshot(state: "indexing", done: 0, total: toProcess, failed: 0)
            case let .progress(progress):
                state.state = "indexing"
                state.done = progress.done
                state.total = progress.total
                state.failed = progress.failed
            case .failed:
                state.failed += 1
            case .unreadableFolder, .noPhotos:
                break
            case .finished:
                state.state = "waiting"
                state.nextRunAt = Timestamp.string(from: Date().addingTimeInterval(interval))
            case let .runFailed(error):
                state.state = "failed"
                state.error = error.localizedDescription
                state.nextRunAt = Timestamp.string(from: Date().addingTimeInterval(interval))
            }
        }
    }

    /// Scheduled indexing has ended for good, for `reason`: no next run is
    /// promised (it showed one in the past, forever).
    public func stop(_ reason: String) {
        current.withLock { state in
            state.state = "stopped"
            state.error = reason
            state.nextRunAt = nil
        }
    }
}
