import ArgumentParser
import Imaging
import Foundation

/// `photosearch-bench`: programs that measure photosearch and print their
/// figures, the last line JSON. A separate executable: the benchmarks' random
/// models and synthetic indexes (TestSupport) never ship in `photosearch`.
@main
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "photosearch-bench",
        abstract: "Measure photosearch's speed and quality; the last line of output is JSON.",
        subcommands: [EncoderBenchCommand.self, IndexBenchCommand.self, SearchBenchCommand.self, DuplicatesBenchCommand.self, QualityBenchCommand.self,
                      PlacesBenchCommand.self]
    )
}

/// A benchmark's progress lines, on standard error.
func benchLog(_ text: String) {
    FileHandle.standardError.write(Data("bench: \(text)\n".utf8))
}

/// Figures for people, on standard output.
func benchOutput(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}

/// The figures as one JSON line (keys sorted), the last line of output.
func benchJSON<T: Encodable>(_ figures: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    benchOutput(String(decoding: try encoder.encode(figures), as: UTF8.self) + "\n")
}

/// Runs a benchmark; any error is one line on standard error and exit 1.
func benchReporting(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch {
        FileHandle.standardError.write(Data("photosearch-bench: error: \((error as? LocalizedError)?.errorDescription ?? "\(error)")\n".utf8))
        throw ExitCode.failure
    }
}

/// The `photosearch` executable the whole-command timings run: next to this
/// one unless given.
func siblingPhotosearch() -> String {
    let own = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    return own.deletingLastPathComponent().appendingPathComponent("photosearch").path
}

/// The photos a benchmark starts from, decoded: `given`, or five of the
/// repository's fixtures (run from its root).
func sourcePhotos(_ given: [String]) throws -> [Bitmap] {
    let paths = given.isEmpty
        ? ["chelsea.png", "rocket.jpg", "coffee-portrait.jpg", "astronaut-progressive.jpg", "camera.png"].map { "fixtures/photos/" + $0 }
        : given
    return try paths.map { try ImageDecoder().decode(path: $0).bitmap }
}
