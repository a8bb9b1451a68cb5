import Dispatch
import PhotoIndex
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Turns SIGINT and SIGTERM into a cancellation, so that a run stops at the
/// next batch boundary with the index consistent.
final class SignalWatcher {
    private final class LastSignal: Sendable {
        let number = Mutex<Int32?>(nil)
    }

    private let last = LastSignal()
    private var sources: [DispatchSourceSignal] = []

    /// The last signal received, if any.
    var received: Int32? { last.number.withLock { $0 } }

    init(cancellation: CancellationFlag) {
        let last = self.last
        sources = [SIGINT, SIGTERM].map { signalNumber in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                last.number.withLock { $0 = signalNumber }
                cancellation.cancel()
            }
            source.resume()
            return source
        }
    }
}
