import ArgumentParser
import Foundation
import PhotoIndex

/// How many results and in which form, shared by search and similar.
struct ResultOptions: ParsableArguments {
    @Option(name: .long, help: "Number of results.")
    var top = 10

    @Option(name: .long, help: "Leave out results whose cosine similarity is below this.")
    var minScore: Float?

    @Flag(name: .long, help: "One JSON object per result: path, score, taken_at.")
    var json = false

    @Flag(name: .long, help: "Only the paths, one per line.")
    var paths = false

    @Flag(name: .long, help: "With --paths: end each path with NUL instead of a newline (for xargs -0).")
    var null = false

    @Option(name: .long, help: "Only photos taken on or after this date (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDTHH:MM).")
    var after: String?

    @Option(name: .long, help: "Only photos taken before this date.")
    var before: String?

    @Option(name: .customLong("in"), help: "Only photos under this folder.")
    var folder: String?

    func validate() throws {
        if top < 1 { throw ValidationError("--top must be at least 1.") }
        if json && paths { throw ValidationError("--json and --paths cannot be used together.") }
        if null && !paths { throw ValidationError("--null goes with --paths.") }
        do {
            _ = try filter()
        } catch {
            throw ValidationError(error.localizedDescription + ".")
        }
    }

    func filter() throws -> SearchFilter {
        SearchFilter(after: try after.map(SearchFilter.instant), before: try before.map(SearchFilter.instant), folder: folder)
    }

    func print(_ results: [SearchResult]) {
        var output = ""
        if paths {
            for result in results { output += result.path + (null ? "\0" : "\n") }
        } else if json {
            for result in results {
                output += JSONText.object([
                    "path": JSONText.string(result.path), "score": JSONText.number(result.score),
                    "taken_at": result.hasCameraDate ? result.takenAt.map(JSONText.string) ?? "null" : "null",
                ]) + "\n"
            }
        } else {
            for (rank, result) in results.enumerated() {
                let date = result.takenAt.map { String($0.prefix(16)).replacingOccurrences(of: "T", with: " ") } ?? "-"
                output += String(format: "%3d  %.4f  %@  %@\n", rank + 1, result.score, date.padding(toLength: 16, withPad: " ", startingAt: 0), result.path)
            }
            if results.isEmpty { FileHandle.standardError.write(Data("photosearch: no matching photos\n".utf8)) }
        }
        FileHandle.standardOutput.write(Data(output.utf8))
    }
}
