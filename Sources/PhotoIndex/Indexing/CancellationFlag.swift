import Dispatch
import Synchronization

/// A flag that stops an indexing run at the next safe point: set from a
/// signal handler's queue or a server's shutdown, read by every worker.
public final class CancellationFlag: Sendable {
    private struct State {
        var cancelled = false
        var sleepers: [DispatchSemaphore] = []
    }

    private let state = Mutex(State())

    public init() {}

    public var isCancelled: Bool { state.withLock { $0.cancelled } }

    public func cancel() {
        let sleepers = state.withLock { state in
            state.cancelled = true
            return state.sleepers
        }
        sleepers.forEach { $0.signal() }
    }

    /// Sleeps up to `seconds`; returns early (true) when cancelled.
    public func sleep(seconds: Double) -> Bool {
        let semaphore = DispatchSemaphore(value: 0)
        let already = state.withLock { state in
            if !state.cancelled { state.sleepers.append(semaphore) }
            return state.cancelled
        }
        if already { return true }
        _ = semaphore.wait(timeout: .now() + seconds)
        return state.withLock { state in
            state.sleepers.removeAll { $0 === semaphore }
            return state.cancelled
        }
    }
}
