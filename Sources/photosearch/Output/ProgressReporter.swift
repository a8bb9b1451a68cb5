import Foundation
import PhotoIndex
#if canImport(Glibc)
import Glibc
#endif

/// Shows an indexing run: a live line on a terminal (standard error), or
/// NDJSON events on standard output with --json.
final class ProgressReporter: @unchecked Sendable {
    let json: Bool
    private let live = isatty(STDERR_FILENO) == 1
    private var lineShown = false

    init(json: Bool) {
        self.json = json
    }

    func handle(_ event: IndexEvent) {
        switch event {
        case let .scanned(files, toProcess):
            if json {
                emit(["event": JSONText.string("scan"), "files": "\(files)", "to_process": "\(toProcess)"])
            } else if live {
                status("found \(files) photos, \(toProcess) to index")
            }
        case let .progress(progress):
            if json {
                emit(["event": JSONText.string("progress"), "done": "\(progress.done)", "total": "\(progress.total)",
                      "failed": "\(progress.failed)", "images_per_second": JSONText.number(rounded(progress.imagesPerSecond)),
                      "eta_seconds": progress.etaSeconds.map { JSONText.number(rounded($0)) } ?? "null"])
            } else if live {
                var text = "\(progress.done)/\(progress.total) photos · \(String(format: "%.1f", progress.imagesPerSecond)) images/s"
                if let eta = progress.etaSeconds, progress.done < progress.total { text += " · ETA \(Self.clock(eta))" }
                if progress.failed > 0 { text += " · \(progress.failed) failed" }
                status(text)
            }
        case let .failed(path, reason):
            if json {
                emit(["event": JSONText.string("failed"), "path": JSONText.string(path), "error": JSONText.string(reason)])
            } else {
                note("failed: \(path): \(reason)")
            }
        case let .unreadableFolder(path, reason):
            if json {
                emit(["event": JSONText.string("unreadable_folder"), "path": JSONText.string(path), "error": JSONText.string(reason)])
            } else {
                note("cannot read folder \(path): \(reason)")
            }
        }
    }

    func finish(_ summary: IndexSummary) {
        if json {
            let fields: KeyValuePairs<String, String> = [
                "scanned": "\(summary.scanned)", "added": "\(summary.added)", "updated": "\(summary.updated)",
                "unchanged": "\(summary.unchanged)", "moved": "\(summary.moved)", "removed": "\(summary.removed)",
                "failed": "\(summary.failed)", "seconds": JSONText.number(rounded(summary.seconds)),
                "interrupted": summary.interrupted ? "true" : "false",
            ]
            print(JSONText.object(fields))
            fflush(nil)
        } else {
            clearLine()
            var text = "\(summary.scanned) photos: \(summary.added) added, \(summary.updated) updated, \(summary.unchanged) unchanged, "
            text += "\(summary.moved) moved, \(summary.removed) removed, \(summary.failed) failed in \(String(format: "%.1f", summary.seconds)) s"
            if summary.interrupted { text += " (interrupted; the next run continues)" }
            FileHandle.standardError.write(Data((text + "\n").utf8))
        }
    }

    /// A message on its own line on standard error.
    func note(_ text: String) {
        clearLine()
        FileHandle.standardError.write(Data("photosearch: \(text)\n".utf8))
    }

    func clearLine() {
        if lineShown {
            FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
            lineShown = false
        }
    }

    private func status(_ text: String) {
        FileHandle.standardError.write(Data("\r\u{1B}[K\(text)".utf8))
        lineShown = true
    }

    private func emit(_ fields: KeyValuePairs<String, String>) {
        print(JSONText.object(fields))
        fflush(nil)
    }

    private func rounded(_ value: Double) -> Double {
        (value * 100).rounded() / 100
    }

    static func clock(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        let hours = total / 3600, minutes = total / 60 % 60, secs = total % 60
        return hours > 0 ? String(format: "%d:%02d:%02d", hours, minutes, secs) : String(format: "%d:%02d", minutes, secs)
    }
}
