import FileAccess
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What clients can make the server hold or do at once (README: "Limits").
public struct ServerLimits: Sendable {
    /// A connection that has not sent a whole request head, or has been
    /// idle between requests, this long is closed (slow clients that never
    /// finish their headers otherwise hold a descriptor for ever).
    public var idleSeconds: Int64 = 30
    /// An upload's body must have arrived within this many seconds.
    public var uploadSeconds: Int64 = 60
    /// Uploads being received or embedded at once; more are 503 at once,
    /// before their bodies are read (each may hold 30 MB). They are embedded
    /// on threads of their own, beside the heavy turns: two uploads that
    /// take seconds each to decode held both turns of a 2-core machine, and
    /// a text search waited 5–13 s for one.
    public var concurrentUploads = 2
    /// Searches, embeddings, files and thumbnails made at once: one per core,
    /// on threads of their own, so that cheap routes (status, details,
    /// stored thumbnails) never wait behind them.
    public var heavyRunning = max(1, ProcessInfo.processInfo.activeProcessorCount)
    /// Heavy requests that may wait for a turn; past that, 503.
    public var heavyWaiting = 64
    /// Seconds a client is told to wait (Retry-After) when the server is full.
    public var retryAfterSeconds = 2

    public init() {}

    /// Descriptors kept for the server's own files (the index and its
    /// journal, SQLite's readers, photos being read, the model).
    static let reservedDescriptors = 64

    /// Raises the soft limit on open descriptors to the hard one (at most
    /// 65 536) and returns how many connections may be open at once: what is
    /// left after the descriptors already open and `reservedDescriptors`,
    /// at most 1024. Past it the server stops accepting (new clients wait in
    /// the listen backlog) instead of failing accept(2) with EMFILE, which
    /// made it spin.
    static func connectionLimit() -> Int {
        guard let limit = OpenFileLimit.raise() else { return 256 }
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 32
        return max(1, min(1024, limit - open - reservedDescriptors))
    }
}

/// Runs CPU-bound work on threads of its own, a fixed number at a time,
/// with a bounded line of waiters; `nil` when the line is full (the caller
/// answers 503).
///
/// Each turn is a thread of its own, not a dispatch queue's: on Linux the
/// async routes run on libdispatch's worker threads, one per core, and a
/// concurrent queue's work takes the same ones, so two decodes on two cores
/// left `/api/status` waiting for the first to end (1–2 s, 15–33 s with
/// hostile photos).
final class WorkLimiter: Sendable {
    let running: Int
    let waiting: Int
    private let name: String

    private struct State {
        var active = 0
        var line: [CheckedContinuation<Bool, Never>] = []
    }

    private let state = Mutex(State())

    init(name: String, running: Int, waiting: Int) {
        precondition(running > 0 && waiting >= 0)
        self.running = running
        self.waiting = waiting
        self.name = name
    }

    /// A turn, at once or after waiting in line; false when the line is full.
    func enter() async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let decided: Bool? = state.withLock { state in
                if state.active < running {
                    state.active += 1
                    return true
                }
                if state.line.count < waiting {
                    state.line.append(continuation)
                    return nil
                }
                return false
            }
            if let decided { continuation.resume(returning: decided) }
        }
    }

    /// Ends a turn, handing it to the first in line.
    func leave() {
        let next: CheckedContinuation<Bool, Never>? = state.withLock { state in
            if state.line.isEmpty {
                state.active -= 1
                return nil
            }
            return state.line.removeFirst()
        }
        next?.resume(returning: true)
    }

    /// `work` on this limiter's threads in its turn; nil when the line is full.
    func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T? {
        guard await enter() else { return nil }
        defer { leave() }
        return await Self.onThread(name, work)
    }

    /// `work` on a thread of its own, named `photosearch.<name>`.
    static func onThread<T: Sendable>(_ name: String, _ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: work()) }
            thread.name = "photosearch.\(name)"
            thread.start()
        }
    }

    /// Turns taken now, and requests waiting for one.
    var active: Int { state.withLock { $0.active } }
    var waitingCount: Int { state.withLock { $0.line.count } }
}
