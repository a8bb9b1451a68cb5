import Dispatch
import PhotoIndex
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Turns SIGINT, SIGTERM and SIGHUP (a closed terminal) into a cancellation,
/// unless photosearch started with them ignored (`nohup` ignores SIGHUP, a
/// non-interactive shell SIGINT for a job it runs in the background),
/// so that a run stops at the next batch boundary with the index consistent
/// and says so (SIGHUP killed it silently, the batch in flight lost).
final class SignalWatcher {
    private final class LastSignal: Sendable {
        let number = Mutex<Int32?>(nil)
    }

    private let last = LastSignal()
    private var sources: [DispatchSourceSignal] = []

    /// The last signal received, if any.
    var received: Int32? { last.number.withLock { $0 } }

    /// The stop signals ignored when photosearch started: they are left
    /// ignored, as whoever started it asked. Read before any is handled
    /// (handling one sets it to SIG_IGN for libdispatch's sake).
    static let ignoredAtStart: Set<Int32> = Set([SIGINT, SIGTERM, SIGHUP].filter { signalNumber in
        var action = sigaction()
        return sigaction(signalNumber, nil, &action) == 0
            && unsafeBitCast(action.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self)
    })

    init(cancellation: CancellationFlag) {
        let last = self.last
        sources = [SIGINT, SIGTERM, SIGHUP].filter { !Self.ignoredAtStart.contains($0) }.map { signalNumber in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                last.number.withLock { $0 = signalNumber }
                Terminal.stopSignal.store(signalNumber, ordering: .relaxed)
                cancellation.cancel()
            }
            source.resume()
            return source
        }
    }
}
