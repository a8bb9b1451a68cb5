import ArgumentParser

@main
struct PhotoSearch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "photosearch",
        abstract: "Semantic photo search on your own computer.",
        subcommands: [EmbedCommand.self, BenchCommand.self]
    )
}
