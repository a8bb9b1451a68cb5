import Foundation
import PhotoIndex
import Testing
@testable import PhotoServer

/// What /api/status says of the server's own scheduled indexing.
@Suite("The server's indexing state")
struct IndexingStateTests {
    @Test("a run ended or failed promises the next one an interval later; indexing stopped for good promises none")
    func nextRun() throws {
        let state = IndexingState(interval: 3600)
        state.handle(.scanned(files: 3, toProcess: 2))
        #expect(state.snapshot() == IndexingState.Snapshot(state: "indexing", done: 0, total: 2, failed: 0))
        state.handle(.finished(IndexSummary()))
        let promised = try #require(state.snapshot().nextRunAt.flatMap { ISO8601DateFormatter().date(from: $0) })
        #expect(abs(promised.timeIntervalSinceNow - 3600) < 60)
        #expect(state.snapshot().state == "waiting")

        state.handle(.runFailed(.writerBusy(path: "/i.sqlite", holder: "process 7")))
        #expect(state.snapshot().state == "failed" && state.snapshot().nextRunAt != nil)

        state.stop("this index was built with model a, not b")
        #expect(state.snapshot() == IndexingState.Snapshot(state: "stopped", done: 0, total: 2, failed: 0,
                                                           error: "this index was built with model a, not b", nextRunAt: nil))
    }
}
