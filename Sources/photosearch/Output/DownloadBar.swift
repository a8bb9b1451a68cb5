import Foundation
import ModelHub
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A download progress line on a terminal (standard error); silent otherwise.
/// Updated from the download's own thread.
final class DownloadBar: Sendable {
    private let live = Terminal.redrawsLines
    private let shown = Mutex(false)

    func update(_ progress: ModelDownloader.Progress) {
        guard live else { return }
        var text = "downloading \(progress.file)  \(ByteCount.format(progress.receivedBytes))"
        if let total = progress.totalBytes, total > 0 {
            let fraction = min(1, Double(progress.receivedBytes) / Double(total))
            let filled = Int(fraction * 24)
            text = "downloading \(progress.file) [" + String(repeating: "#", count: filled) + String(repeating: ".", count: 24 - filled)
                + "] \(ByteCount.format(progress.receivedBytes))/\(ByteCount.format(total))"
            if progress.bytesPerSecond > 0 {
                text += "  \(ByteCount.format(Int64(progress.bytesPerSecond)))/s  ETA \(ByteCount.clock(Double(total - progress.receivedBytes) / progress.bytesPerSecond))"
            }
        }
        shown.withLock { shown in
            Terminal.error("\r\u{1B}[K\(text)")
            shown = true
        }
    }

    func finish() {
        shown.withLock { shown in
            if shown { Terminal.error("\r\u{1B}[K") }
            shown = false
        }
    }
}
