import ArgumentParser
import CLIP
import Dispatch
import Foundation
import PhotoIndex

struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Index photo folders: embed new and changed photos, forget deleted ones.",
        discussion: """
        Runs again are incremental: unchanged files are not decoded, moved or renamed \
        files keep their embedding, deleted files leave the index. Unreadable photos \
        are recorded and retried when they change. One indexer per database: a second \
        one exits at once with status 75. With --every, indexes again after each \
        interval until SIGTERM or SIGINT (for a service manager).
        """
    )

    @Argument(help: "Folders or photo files to index.")
    var paths: [String]

    @OptionGroup var database: DatabaseOption
    @OptionGroup var model: ModelOption

    @Option(name: .long, help: "Threads decoding photos (default: one per core).")
    var jobs: Int?

    @Option(name: .long, help: "Skip files and folders matching this glob (a name, or a whole path if it contains /); repeatable.")
    var exclude: [String] = []

    @Flag(name: .long, help: "Print NDJSON progress events; the last line is the run's summary.")
    var json = false

    @Option(name: .long, help: "Index again after each interval: 30s, 30m, 6h, 1d.")
    var every: String?

    @Flag(name: .long, help: "Delete the embeddings of another model and re-embed every photo with this one.")
    var replaceModel = false

    @Option(name: .long, help: "Photos per encoder batch.")
    var batchSize = 16

    func validate() throws {
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1.") }
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1.") }
        if let every, Interval.seconds(every) == nil {
            throw ValidationError("--every takes a number and a unit, like 30s, 30m, 6h or 1d.")
        }
    }

    func run() throws {
        let modelDirectory = try model.directory()
        let clip: CLIPModel
        let directory: ModelDirectory
        do {
            directory = try ModelDirectory(path: modelDirectory)
            clip = try CLIPModel(directory: modelDirectory, towers: .image)
        } catch {
            throw Failure.exit(error)
        }
        let indexPath = database.path
        let index: IndexDatabase
        do {
            index = try IndexDatabase(path: indexPath, create: true)
        } catch {
            throw Failure.exit(error, code: ExitStatus.code(for: error))
        }

        let cancellation = CancellationFlag()
        let signals = SignalWatcher(cancellation: cancellation)
        let reporter = ProgressReporter(json: json)
        var options = IndexingOptions(roots: paths)
        options.excludes = exclude
        if let jobs { options.jobs = jobs }
        options.batchSize = batchSize
        options.replaceModel = replaceModel

        guard let every else {
            let summary = try runOnce(index: index, directory: directory, clip: clip, options: options,
                                      cancellation: cancellation, reporter: reporter, waitForLock: false)
            if summary?.interrupted == true {
                throw ExitCode(signals.received == SIGTERM ? ExitStatus.terminated : ExitStatus.interrupted)
            }
            return
        }
        let interval = Interval.seconds(every)!
        options.replaceModel = replaceModel
        while !cancellation.isCancelled {
            _ = try runOnce(index: index, directory: directory, clip: clip, options: options,
                            cancellation: cancellation, reporter: reporter, waitForLock: true)
            options.replaceModel = false    // only the first run replaces
            if cancellation.isCancelled || cancellation.sleep(seconds: interval) { break }
        }
        reporter.note("stopped by signal; the index is consistent")
    }

    /// One run under the writer lock. In a loop (`waitForLock`), a busy lock or
    /// a failed run is reported and the loop goes on; otherwise it is the exit.
    private func runOnce(index: IndexDatabase, directory: ModelDirectory, clip: CLIPModel, options: IndexingOptions,
                         cancellation: CancellationFlag, reporter: ProgressReporter, waitForLock: Bool) throws -> IndexSummary? {
        let outcome: Result<IndexSummary, PhotoIndexError> = Result { () throws(PhotoIndexError) -> IndexSummary in
            let lock = try WriterLock(indexPath: index.path)
            let known = try index.currentModel().map { [$0] } ?? []
            let identity = try ModelIdentity.of(directory: directory, embeddingSize: clip.embeddingSize, known: known)
            let summary = try Indexer(database: index, model: clip, identity: identity)
                .run(options, cancellation: cancellation, events: reporter.handle)
            withExtendedLifetime(lock) {}
            return summary
        }
        switch outcome {
        case let .success(summary):
            reporter.finish(summary)
            return summary
        case let .failure(error):
            reporter.clearLine()
            var fatal = !waitForLock
            if case .modelMismatch = error { fatal = true }
            if case .embeddingSizeMismatch = error { fatal = true }
            if fatal { throw Failure.exit(error, code: ExitStatus.code(for: error)) }
            reporter.note(error.localizedDescription)
            return nil
        }
    }
}

/// "30s", "30m", "6h", "1d" → seconds.
enum Interval {
    static func seconds(_ text: String) -> Double? {
        guard let unit = text.last, let value = Double(text.dropLast()), value > 0, value.isFinite else { return nil }
        switch unit {
        case "s": return value
        case "m": return value * 60
        case "h": return value * 3600
        case "d": return value * 86400
        default: return nil
        }
    }
}

/// Turns SIGINT and SIGTERM into a cancellation, so that a run stops at the
/// next batch boundary with the index consistent.
final class SignalWatcher: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private let lock = NSLock()
    private var last: Int32?

    var received: Int32? {
        lock.lock()
        defer { lock.unlock() }
        return last
    }

    init(cancellation: CancellationFlag) {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [weak self] in
                self?.lock.lock()
                self?.last = signalNumber
                self?.lock.unlock()
                cancellation.cancel()
            }
            source.resume()
            sources.append(source)
        }
    }
}
