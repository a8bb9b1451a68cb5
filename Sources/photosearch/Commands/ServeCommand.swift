import ArgumentParser
import FileAccess
import Foundation
import ModelHub
import PhotoIndex
import PhotoServer
import Synchronization

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Search and browse the photos in a web browser.",
        discussion: """
        Serves the gallery page and its JSON API (README: "The web gallery") on \
        127.0.0.1:8080 by default and prints the address to open (on --host 0.0.0.0 \
        or ::, every address of this computer's network interfaces). A --host other \
        than loopback needs a token: --token, or the one kept for this index (made and \
        printed the first time, kept under $XDG_STATE_HOME/photosearch/tokens, so that \
        devices stay let in after a restart; --new-token replaces it). With \
        --index and --every, the server also re-indexes those folders on that \
        schedule, one writer at a time as `index` does. SIGINT, SIGTERM or SIGHUP \
        (unless ignored, as under nohup) stops it.
        """
    )

    @OptionGroup var database: DatabaseOption
    @OptionGroup var model: ModelOption

    @Option(name: .long, help: "Address to listen on (default: 127.0.0.1, this computer only).")
    var host = "127.0.0.1"

    @Option(name: .long, parsing: .unconditional, help: "Port (0: any free one, printed).")
    var port = 8080

    @Option(name: .long, help: "Token every client must present (default: none on loopback, else the one kept for this index).")
    var token: String?

    @Flag(name: .long, help: "Replace the token kept for this index with a new one (devices that had the old one must open the new address).")
    var newToken = false

    @Option(name: .long, parsing: .unconditional, help: "Seconds a client may take to send a request, or stay idle between requests, before it is disconnected.")
    var idleTimeout = 30

    @Option(name: .long, help: "Folder to re-index on the --every schedule; repeatable.", completion: .directory)
    var index: [String] = []

    @Option(name: .long, parsing: .unconditional, help: "With --index: run the indexer now and after each interval: 30s, 30m, 6h, 1d.")
    var every: String?

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535.") }
        if let token, !GalleryServer.isValidToken(token) {
            throw ValidationError("--token must be 16 to 256 letters, digits or -_.~")
        }
        if newToken, token != nil { throw ValidationError("--new-token replaces the kept token; --token gives one instead: choose one.") }
        if newToken, GalleryServer.Configuration(host: host).isLoopback {
            throw ValidationError("--new-token replaces the token a --host other than loopback needs; on \(host), none is asked for.")
        }
        guard (1...3600).contains(idleTimeout) else { throw ValidationError("--idle-timeout must be between 1 and 3600 seconds.") }
        if index.isEmpty != (every == nil) { throw ValidationError("--index and --every go together.") }
        if let every { _ = try Interval.every(every) }
    }

    /// The server's own files, SQLite's, the model's, the event loops' and
    /// a few connections.
    static let minimumOpenFiles = 128

    func run() async throws {
        try await Failure.reporting {
            // SwiftNIO traps when it cannot open its own descriptors (an
            // event loop's epoll): refused here, in a line.
            let files = OpenFileLimit.current ?? Int.max
            guard files >= Self.minimumOpenFiles else {
                Terminal.error("photosearch: error: serve needs at least \(Self.minimumOpenFiles) open files, and the limit is \(files) (ulimit -n)\n")
                throw ExitCode(ExitStatus.failure)
            }
            let library = PhotoLibrary(database: database.path, model: try model.directory(index: database.path), prepared: model.prepared)
            // A model other than the index's would fail every search: say so now.
            try library.verifyModel()
            var configuration = GalleryServer.Configuration(host: host, port: port, token: token)
            configuration.limits.idleSeconds = Int64(idleTimeout)
            if configuration.token == nil, !configuration.isLoopback { configuration.token = try keptToken() }

            let cancellation = CancellationFlag()
            var indexing: IndexingState?
            var indexer: ScheduledIndexing?
            if let every, let interval = Interval.seconds(every) {
                let state = IndexingState(interval: interval)
                indexing = state
                indexer = ScheduledIndexing(library: library, options: IndexingOptions(roots: index), interval: interval,
                                            state: state, cancellation: cancellation)
            }
            let server = GalleryServer(api: GalleryAPI(library: library, indexing: indexing), configuration: configuration)
            let token = configuration.token
            let outcome: (any Error)?
            do {
                try await server.run(stopOnHangup: !SignalWatcher.ignoredAtStart.contains(SIGHUP),
                                           stopOnInterrupt: !SignalWatcher.ignoredAtStart.contains(SIGINT)) { host, port in
                    // On 0.0.0.0 or ::, the addresses other devices can open.
                    let addresses = ServerAddresses.reachable(listeningOn: host).map { address in
                        "http://\(address.host):\(port)/" + (token.map { "?token=\($0)" } ?? "")
                            + (address.isLoopback && ServerAddresses.isWildcard(host) ? " (this computer)" : "")
                    }
                    let lines = ["photosearch: serving \(addresses[0]) (Ctrl-C stops it)"]
                        + addresses.dropFirst().map { "photosearch: also \($0)" }
                    Terminal.note(lines.joined(separator: "\n") + "\n")
                }
                outcome = nil
            } catch {
                outcome = error
            }
            // Stop indexing between batches, and let the batch in flight commit.
            cancellation.cancel()
            await indexer?.finished()
            if let outcome {
                throw ServeFailure(message: "cannot serve on \(host):\(port): \(outcome)")
            }
        }
    }
}

extension ServeCommand {
    /// The token kept for this index (made, or replaced with
    /// `--new-token`, and said so); where none can be kept, one for this run.
    func keptToken() throws -> String {
        let folder = XDGDirectories().state + "/tokens"
        do {
            let kept = try KeptToken.token(in: folder, index: database.path, replace: newToken)
            if kept.made {
                Terminal.error("photosearch: a new token for this index, kept in \(FilePaths.displayed(kept.file)) (--new-token replaces it)\n")
            }
            return kept.token
        } catch {
            // (A token to revoke that cannot be replaced would come back at the next start.)
            guard case .tokenNotKept = error, !newToken else { throw error }
            Terminal.error("photosearch: \(error.localizedDescription); this token lasts until the server stops\n")
            return GalleryServer.makeToken()
        }
    }
}

/// `serve --index … --every …`: the library's scheduled indexing on a thread
/// of its own (indexing blocks, and must not hold one of the few threads
/// Swift's tasks share), reported in `state` and, one line per run, on the
/// standard streams.
final class ScheduledIndexing: Sendable {
    private let done = Mutex<(finished: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    init(library: PhotoLibrary, options: IndexingOptions, interval: Double, state: IndexingState, cancellation: CancellationFlag) {
        let thread = Thread { [self] in
            do {
                try library.indexRepeatedly(options, every: interval, cancellation: cancellation) { event in
                    state.handle(event)
                    switch event {
                    case let .finished(summary):
                        // One line per run, for logs (and tests) to follow;
                        // a log reader gone does not stop the server.
                        Terminal.note("photosearch: indexed " + ProgressReporter.summary(summary) + "\n")
                    case let .runFailed(error):
                        Terminal.error("photosearch: indexing: \(error.localizedDescription)\n")
                    default:
                        break
                    }
                }
            } catch {
                // What no later run can fix (no model, another model's index): said once, searching goes on.
                state.stop(error.localizedDescription)
                Terminal.error("photosearch: indexing stopped: \(error.localizedDescription)\n")
            }
            let waiter = done.withLock { done in
                done.finished = true
                return done.waiter
            }
            waiter?.resume()
        }
        thread.start()
    }

    /// Returns when the indexing thread has ended (after its batch in flight).
    func finished() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ended = done.withLock { done in
                if !done.finished { done.waiter = continuation }
                return done.finished
            }
            if ended { continuation.resume() }
        }
    }
}

struct ServeFailure: Error, LocalizedError {
    let message: String
    var errorDescription: String? { message }
}
