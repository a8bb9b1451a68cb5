import ArgumentParser
import FileAccess
import Foundation
import Imaging
import PhotoIndex

struct DuplicatesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "duplicates",
        abstract: "List groups of near-identical photos."
    )

    @OptionGroup var database: DatabaseOption

    @Option(name: .long, help: "Cosine similarity at or above which two photos count as duplicates.")
    var threshold: Float = 0.95

    @Flag(name: .long, help: "One JSON object per group: paths and the lowest similarity in it.")
    var json = false

    @Flag(name: .long, help: ArgumentHelp("Compare every pair of photos (slow for large libraries).",
                                          discussion: "From 20 000 photos and a threshold of 0.9, pairs are otherwise looked for among nearby photos only: seconds instead of minutes, and all but a rare pair."))
    var exact = false

    func validate() throws {
        if !(threshold > -1 && threshold <= 1) { throw ValidationError("--threshold must be in (-1, 1].") }
    }

    /// One group of --json.
    struct GroupLine: Encodable {
        let paths: [String]
        let similarity: Float
    }

    func run() throws {
        try Failure.reporting {
            let groups = try PhotoLibrary(database: database.path, model: nil).duplicates(threshold: threshold, exact: exact)
            var output = ""
            for (index, group) in groups.enumerated() {
                if json {
                    output += try JSONLines.line(GroupLine(paths: group.paths.map(FilePaths.displayed), similarity: group.similarity))
                } else {
                    if index > 0 { output += "\n" }
                    output += String(format: "group %d (%d photos, similarity ≥ %.4f)\n", index + 1, group.paths.count, group.similarity)
                    output += group.paths.map { "  " + FilePaths.displayed($0) + "\n" }.joined()
                }
            }
            Terminal.output(output)
        }
    }
}
