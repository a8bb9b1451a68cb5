import FileAccess
import Foundation
import Imaging
import PhotoIndex
#if canImport(Glibc)
import Glibc
#endif

/// Shows an indexing run: a live line on a terminal (standard error), or
/// NDJSON events on standard output with --json (see `EventLine`).
final class ProgressReporter {
    let json: Bool
    private let live = Terminal.redrawsLines
    private var lineShown = false

    init(json: Bool) {
        self.json = json
    }

    func handle(_ event: IndexEvent) {
        if json, let line = EventLine(event) {
            // A line that cannot be encoded (a non-finite rate) is dropped, not fatal.
            try? JSONLines.print(line)
            return
        }
        switch event {
        case let .scanned(files, toProcess):
            if live { status("found \(files) photos, \(toProcess) to index") }
        case let .progress(progress):
            guard live else { return }
            var text = "\(progress.done)/\(progress.total) photos · \(String(format: "%.1f", progress.imagesPerSecond)) images/s"
            if let eta = progress.etaSeconds, progress.done < progress.total { text += " · ETA \(ByteCount.clock(eta))" }
            if progress.failed > 0 { text += " · \(progress.failed) failed" }
            status(text)
        case let .failed(path, reason):
            note("failed: \(FilePaths.displayed(path)): \(reason)")
        case let .unreadableFolder(path, reason):
            note("cannot read \(FilePaths.displayed(path)): \(reason)")
        case let .noPhotos(otherFiles):
            note(Self.noPhotos(otherFiles: otherFiles))
        case let .finished(summary):
            clearLine()
            Terminal.error(Self.summary(summary) + "\n")
        case let .runFailed(error):
            note(error.localizedDescription)
        }
    }

    /// A run's summary in one line, as `index` and `serve` print it.
    static func summary(_ summary: IndexSummary) -> String {
        var text = "\(summary.scanned) photo\(summary.scanned == 1 ? "" : "s"): \(summary.added) added, \(summary.updated) updated, \(summary.unchanged) unchanged, "
        text += "\(summary.moved) moved, \(summary.removed) removed, \(summary.failed) failed in \(String(format: "%.1f", summary.seconds)) s"
        if summary.failedBefore > 0 {
            let count = summary.failedBefore
            text += "; \(count) unchanged photo\(count == 1 ? "" : "s") failed before (photosearch status lists \(count == 1 ? "it" : "them"))"
        }
        if summary.vanished > 0 { text += "; \(summary.vanished) vanished while it ran (the next run looks again)" }
        if summary.interrupted { text += " (interrupted; the next run continues)" }
        return text
    }

    /// Why a run indexed nothing: what photosearch reads, and what it found instead.
    static func noPhotos(otherFiles: Int) -> String {
        let found = otherFiles == 0 ? "no other file either" : otherFiles == 1 ? "1 file of another kind" : "\(otherFiles) files of other kinds"
        return "no photos found: photosearch indexes .jpg, .jpeg, .png, .webp, .heic and .heif files, and found \(found) "
            + "(hidden files and folders, and --exclude matches, are skipped)"
    }

    /// A message on its own line on standard error.
    func note(_ text: String) {
        clearLine()
        Terminal.error("photosearch: \(text)\n")
    }

    func clearLine() {
        if lineShown {
            Terminal.error("\r\u{1B}[K")
            lineShown = false
        }
    }

    private func status(_ text: String) {
        Terminal.error("\r\u{1B}[K\(text)")
        lineShown = true
    }
}

/// One line of `index --json`: an event with its "event" field, or, last,
/// the run's summary (`IndexSummary`'s fields). A repeated run that could
/// not start or stopped on an error (`runFailed`) is `{"event":"run_failed",
/// "error":…}`: a reader of the events saw nothing of it.
enum EventLine: Encodable {
    case scan(files: Int, toProcess: Int)
    case progress(IndexProgress)
    case failed(event: String, path: String, error: String)
    case noPhotos(otherFiles: Int)
    case runFailed(error: String)
    case summary(IndexSummary)

    init?(_ event: IndexEvent) {
        switch event {
        case let .scanned(files, toProcess): self = .scan(files: files, toProcess: toProcess)
        case let .progress(progress): self = .progress(progress)
        case let .failed(path, reason): self = .failed(event: "failed", path: FilePaths.unicodeText(path), error: reason)
        case let .unreadableFolder(path, reason): self = .failed(event: "unreadable_folder", path: FilePaths.unicodeText(path), error: reason)
        case let .noPhotos(otherFiles): self = .noPhotos(otherFiles: otherFiles)
        case let .finished(summary): self = .summary(summary)
        case let .runFailed(error): self = .runFailed(error: FilePaths.unicodeText(error.localizedDescription))
        }
    }

    private enum Keys: String, CodingKey {
        case event, files, toProcess = "to_process", done, total, failed, imagesPerSecond = "images_per_second"
        case etaSeconds = "eta_seconds", path, error, otherFiles = "other_files"
    }

    func encode(to encoder: Encoder) throws {
        if case let .summary(summary) = self {
            var shown = summary
            shown.seconds = Self.rounded(summary.seconds)
            try shown.encode(to: encoder)
            return
        }
        var container = encoder.container(keyedBy: Keys.self)
        switch self {
        case let .scan(files, toProcess):
            try container.encode("scan", forKey: .event)
            try container.encode(files, forKey: .files)
            try container.encode(toProcess, forKey: .toProcess)
        case let .progress(progress):
            try container.encode("progress", forKey: .event)
            try container.encode(progress.done, forKey: .done)
            try container.encode(progress.total, forKey: .total)
            try container.encode(progress.failed, forKey: .failed)
            try container.encode(Self.rounded(progress.imagesPerSecond), forKey: .imagesPerSecond)
            try container.encode(progress.etaSeconds.map(Self.rounded), forKey: .etaSeconds)
        case let .failed(event, path, error):
            try container.encode(event, forKey: .event)
            try container.encode(path, forKey: .path)
            try container.encode(error, forKey: .error)
        case let .noPhotos(otherFiles):
            try container.encode("no_photos", forKey: .event)
            try container.encode(otherFiles, forKey: .otherFiles)
        case let .runFailed(error):
            try container.encode("run_failed", forKey: .event)
            try container.encode(error, forKey: .error)
        case .summary:
            break
        }
    }

    private static func rounded(_ value: Double) -> Double { (value * 100).rounded() / 100 }
}
