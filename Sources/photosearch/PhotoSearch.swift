import ArgumentParser
import Compute
import Foundation

@main
struct PhotoSearch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "photosearch",
        abstract: "Semantic photo search on your own computer.",
        subcommands: [SearchCommand.self, SimilarCommand.self, DuplicatesCommand.self, IndexCommand.self, StatusCommand.self,
                      ModelsCommand.self, EmbedCommand.self, BenchCommand.self]
    )

    /// Checks the environment the kernels are chosen from, then runs the command.
    static func main() {
        do {
            _ = try KernelPath.requested()
        } catch {
            Terminal.error("photosearch: error: \(error.localizedDescription)\n")
            Foundation.exit(ExitStatus.usage)
        }
        main(nil)
    }
}
