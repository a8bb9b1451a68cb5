import ArgumentParser
import FileAccess
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
        interval until SIGTERM, SIGINT or SIGHUP (for a service manager).
        """
    )

    @Argument(help: "Folders or photo files to index.", completion: .file())
    var paths: [String]

    @OptionGroup var database: DatabaseOption
    @OptionGroup var model: ModelOption
    @OptionGroup var precision: PrecisionOption

    @Option(name: .long, parsing: .unconditional, help: "Threads decoding photos (default: one per core).")
    var jobs: Int?

    @Option(name: .long, help: "Skip files and folders matching this glob (a name, or a whole path if it contains /); repeatable.")
    var exclude: [String] = []

    @Flag(name: .long, help: "Print NDJSON progress events; the last line is the run's summary.")
    var json = false

    @Option(name: .long, parsing: .unconditional, help: "Index again after each interval: 30s, 30m, 6h, 1d.")
    var every: String?

    @Flag(name: .long, help: "Delete the embeddings of another model or precision and re-embed every photo with this one.")
    var replaceModel = false

    @Flag(name: .long, help: "Let a folder that holds no photos now remove its photos from the index (refused otherwise: an unmounted drive's mount point looks empty).")
    var allowEmpty = false

    @Option(name: .long, parsing: .unconditional, help: "Photos per encoder batch.")
    var batchSize = 16

    func validate() throws {
        let jobsRange = IndexingOptions.jobsRange, batchRange = IndexingOptions.batchSizeRange
        if let jobs, !jobsRange.contains(jobs) { throw ValidationError("--jobs must be between 1 and \(jobsRange.upperBound).") }
        if !batchRange.contains(batchSize) { throw ValidationError("--batch-size must be between 1 and \(batchRange.upperBound).") }
        if let every { _ = try Interval.every(every) }
    }

    func run() throws {
        let reporter = ProgressReporter(json: json)
        try Failure.reporting {
            let directory = try model.directory(index: database.path, replacing: replaceModel)
            if model.requested == nil, let directory, let standard = try? model.directory(),
               FilePaths.absolute(standard) != FilePaths.absolute(directory) {
                let (indexed, other) = (FilePaths.lastComponent(directory), FilePaths.lastComponent(standard))
                reporter.note("this index holds \(indexed)'s vectors: indexing with it, not with the default model \(other) (--replace-model re-embeds every photo with \(other))")
            }
            let library = PhotoLibrary(database: database.path, model: directory, prepared: model.prepared)
            let cancellation = CancellationFlag()
            let signals = SignalWatcher(cancellation: cancellation)
            Terminal.stopInstead { cancellation.cancel() }
            var options = IndexingOptions(roots: paths)
            options.excludes = exclude
            if let jobs { options.jobs = jobs }
            options.batchSize = batchSize
            options.replaceModel = replaceModel
            options.allowEmptyRoots = allowEmpty
            options.precision = try precision.resolved()
            do {
                if let every, let interval = Interval.seconds(every) {
                    try library.indexRepeatedly(options, every: interval, cancellation: cancellation, events: reporter.handle)
                    try Terminal.exitIfOutputFailed()
                    reporter.note("stopped by signal; the index is consistent")
                    return
                }
                let summary = try library.index(options, cancellation: cancellation, events: reporter.handle)
                try Terminal.exitIfOutputFailed()
                if summary.interrupted {
                    throw ExitCode(ExitStatus.stopped(by: signals.received ?? SIGINT))
                }
            } catch let error as PhotoIndexError {
                reporter.clearLine()
                throw error
            }
        }
    }
}
