import ArgumentParser

@main
struct PhotoSearch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "photosearch",
        abstract: "Semantic photo search on your own computer.",
        subcommands: [IndexCommand.self, StatusCommand.self, EmbedCommand.self, BenchCommand.self]
    )
}
