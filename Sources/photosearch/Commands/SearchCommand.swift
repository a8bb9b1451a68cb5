import ArgumentParser
import CLIP
import Foundation
import Imaging
import PhotoIndex

struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Find photos by description, by example, or both.",
        discussion: """
        QUERY is text ("a dog on the beach"), a path to an image (search by example), \
        or terms joined by + and - with optional weights: '"dog" + "beach" - "people"', \
        '2:sunset + ./ref.jpg'. Terms are combined on normalised embeddings; scores are \
        cosine similarities. Filters apply before ranking.
        """
    )

    @Argument(help: "What to look for.")
    var query: String

    @OptionGroup var database: DatabaseOption
    @OptionGroup var model: ModelOption
    @OptionGroup var results: ResultOptions

    func run() throws {
        let parsed: SearchQuery
        do {
            parsed = try SearchQuery.parse(query)
        } catch {
            if case .noSuchImage = error { throw Failure.exit(error) }
            throw Failure.exit(error, code: ExitStatus.usage)
        }
        // A text query always needs a model: say how to get one before anything else.
        let resolved = parsed.texts.isEmpty ? nil : try model.directory()
        let searcher = try Self.openSearcher(database.path)
        let encoder = try Self.queryEncoder(for: parsed, searcher: searcher, model: model, resolved: resolved)
        do {
            let (vector, _) = try encoder.vector(for: parsed)
            results.print(try searcher.search(vector, top: results.top, minimumScore: results.minScore, filter: try results.filter()))
        } catch {
            throw Failure.exit(error, code: ExitStatus.code(for: error))
        }
    }

    static func openSearcher(_ path: String) throws -> PhotoSearcher {
        do {
            return try PhotoSearcher(database: try IndexDatabase(path: path, create: false))
        } catch {
            throw Failure.exit(error, code: ExitStatus.code(for: error))
        }
    }

    /// Loads only the towers the query needs, and refuses a model other than the index's.
    /// `resolved` is the model directory when the caller already looked it up.
    static func queryEncoder(for query: SearchQuery, searcher: PhotoSearcher, model: ModelOption,
                             resolved: String? = nil) throws -> QueryEncoder {
        let towers: CLIPModel.Towers
        do {
            towers = try QueryEncoder.towers(for: query, searcher: searcher)
        } catch {
            throw Failure.exit(error)
        }
        guard !towers.isEmpty else { return QueryEncoder(model: nil, searcher: searcher) }
        let directoryPath = try resolved ?? model.directory()
        do {
            let directory = try ModelDirectory(path: directoryPath)
            let clip = try CLIPModel(directory: directoryPath, towers: towers)
            try searcher.verify(try ModelIdentity.of(directory: directory, embeddingSize: clip.embeddingSize, known: [searcher.model]))
            return QueryEncoder(model: clip, searcher: searcher)
        } catch {
            throw Failure.exit(error, code: ExitStatus.code(for: error))
        }
    }
}

struct SimilarCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "similar",
        abstract: "Find the indexed photos most like a photo (indexed or not)."
    )

    @Argument(help: "A photo file.")
    var photo: String

    @OptionGroup var database: DatabaseOption
    @OptionGroup var model: ModelOption
    @OptionGroup var results: ResultOptions

    func run() throws {
        guard FileManager.default.fileExists(atPath: photo) else {
            throw Failure.exit(SearchQuery.ParseError.noSuchImage(photo))
        }
        let query = SearchQuery(parts: [.init(term: .image(path: FilePaths.absolute(photo)), weight: 1)])
        let searcher = try SearchCommand.openSearcher(database.path)
        let encoder = try SearchCommand.queryEncoder(for: query, searcher: searcher, model: model)
        do {
            let (vector, examples) = try encoder.vector(for: query)
            results.print(try searcher.search(vector, top: results.top, minimumScore: results.minScore,
                                              filter: try results.filter(), excluding: examples))
        } catch {
            throw Failure.exit(error, code: ExitStatus.code(for: error))
        }
    }
}

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

    func validate() throws {
        if !(threshold > -1 && threshold <= 1) { throw ValidationError("--threshold must be in (-1, 1].") }
    }

    func run() throws {
        let searcher = try SearchCommand.openSearcher(database.path)
        let groups: [DuplicateFinder.Group]
        do {
            groups = try DuplicateFinder(searcher: searcher).groups(threshold: threshold)
        } catch {
            throw Failure.exit(error, code: ExitStatus.code(for: error))
        }
        var output = ""
        for (index, group) in groups.enumerated() {
            if json {
                output += JSONText.object([
                    "paths": "[" + group.paths.map(JSONText.string).joined(separator: ",") + "]",
                    "similarity": JSONText.number(group.similarity),
                ]) + "\n"
            } else {
                if index > 0 { output += "\n" }
                output += String(format: "group %d (%d photos, similarity ≥ %.4f)\n", index + 1, group.paths.count, group.similarity)
                output += group.paths.map { "  " + $0 + "\n" }.joined()
            }
        }
        FileHandle.standardOutput.write(Data(output.utf8))
    }
}
