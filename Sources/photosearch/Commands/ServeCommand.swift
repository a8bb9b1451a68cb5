import ArgumentParser
import Foundation
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
        than loopback needs a token (--token, or one is made and printed). With \
        --index and --every, the server also re-indexes those folders on that \
        schedule, one writer at a time as `index` does. SIGINT or SIGTERM stops it.
        """
    )

    @OptionGroup var database: DatabaseOption
    @OptionGroup var model: ModelOption

    @Option(name: .long, help: "Address to listen on (default: 127.0.0.1, this computer only).")
    var host = "127.0.0.1"

    @Option(name: .long, parsing: .unconditional, help: "Port (0: any free one, printed).")
    var port = 8080

    @Option(name: .long, help: "Token every client must present (default: none on loopback, a new one otherwise).")
    var token: String?

    @Option(name: .long, parsing: .unconditional, help: "Seconds a client may take to send a request, or stay idle between requests, before it is disconnected.")
    var idleTimeout = 30

    @Option(name: .long, help: "Folder to re-index on the --every schedule; repeatable.", completion: .directory)
    var index: [String] = []

    @Option(name: .long, parsing: .unconditional, help: "With --index: run the indexer now and after each interval: 30s, 30m, 6h, 1d.")
    var every: String?

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535.") }
        if let token, token.count < 16 || token.count > 256 || !token.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.~".contains($0)) }) {
            throw ValidationError("--token must be 16 to 256 letters, digits or -_.~")
        }
        guard (1...3600).contains(idleTimeout) else { throw ValidationError("--idle-timeout must be between 1 and 3600 seconds.") }
        if index.isEmpty != (every == nil) { throw ValidationError("--index and --every go together.") }
        if let every { _ = try Interval.every(every) }
    }

    func run() async throws {
        try await Failure.reporting {
            let library = PhotoLibrary(database: database.path, model: try model.directory(index: database.path), prepared: model.prepared)
            // A model other than the index's would fail every search: say so now.
            try library.verifyModel()
            var configuration = GalleryServer.Configuration(host: host, port: port, token: token)
            configuration.limits.idleSeconds = Int64(idleTimeout)
            if configuration.token == nil, !configuration.isLoopback { configuration.token = GalleryServer.makeToken() }

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
                try await server.run { host, port in
                    // On 0.0.0.0 or ::, the addresses other devices can open.
                    let addresses = ServerAddresses.reachable(listeningOn: host).map { address in
                        "http://\(address.host):\(port)/" + (token.map { "?token=\($0)" } ?? "")
                            + (address.isLoopback && ServerAddresses.isWildcard(host) ? " (this computer)" : "")
                    }
                    let lines = ["photosearch: serving \(addresses[0]) (Ctrl-C stops it)"]
                        + addresses.dropFirst().map { "photosearch: also \($0)" }
                    FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
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
                        // One line per run, for logs (and tests) to follow.
                        var text = "photosearch: indexed \(summary.scanned) photo\(summary.scanned == 1 ? "" : "s"): \(summary.added) added, \(summary.updated) updated, "
                        text += "\(summary.removed) removed, \(summary.failed) failed in \(String(format: "%.1f", summary.seconds)) s\n"
                        FileHandle.standardOutput.write(Data(text.utf8))
                    case let .runFailed(error):
                        Terminal.error("photosearch: indexing: \(error.localizedDescription)\n")
                    default:
                        break
                    }
                }
            } catch {
                // What no later run can fix (no model, another model's index): said once, searching goes on.
                if let error = error as? PhotoIndexError { state.handle(.runFailed(error)) }
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
