import ArgumentParser

@main
struct PhotoSearch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "photosearch",
        abstract: "Semantic photo search on your own computer.",
        subcommands: [SearchCommand.self, SimilarCommand.self, DuplicatesCommand.self, IndexCommand.self, StatusCommand.self,
                      ModelsCommand.self, EmbedCommand.self, BenchCommand.self]
    )
}
