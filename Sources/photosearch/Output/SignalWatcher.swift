import Dispatch
import PhotoIndex
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Turns SIGINT, SIGTERM and SIGHUP (a closed terminal; unless it was
/// ignored when photosearch started, as `nohup` does) into a cancellation,
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

    /// Whether SIGHUP was ignored when photosearch started (`nohup`): then
    /// a closed terminal is to leave it running, as it asked.
    static var hangupIgnored: Bool {
        var action = sigaction()
        return sigaction(SIGHUP, nil, &action) == 0
            && unsafeBitCast(action.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self)
    }

    init(cancellation: CancellationFlag) {
        let last = self.last
        sources = ([SIGINT, SIGTERM] + (Self.hangupIgnored ? [] : [SIGHUP])).map { signalNumber in
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
