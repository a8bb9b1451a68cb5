import ArgumentParser
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

    @Argument(help: "What to look for.", completion: Completions.photos)
    var query: String

    @OptionGroup var database: DatabaseOption
    @OptionGroup var model: ModelOption
    @OptionGroup var results: ResultOptions
    @OptionGroup var probability: ProbabilityOption

    func run() throws {
        try Failure.reporting {
            let parsed = try SearchQuery.parse(query)
            let library = PhotoLibrary(database: database.path, model: try model.directory(index: database.path), prepared: model.prepared)
            try results.print(try library.search(parsed, try results.searchOptions(minimumProbability: probability.minProbability)))
            ResultOptions.noteUnembedded(library)
        }
    }
}
