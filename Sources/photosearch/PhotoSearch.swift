import ArgumentParser
import Compute
import FileAccess
import Foundation
import Imaging

@main
struct PhotoSearch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "photosearch",
        abstract: "Semantic photo search on your own computer.",
        subcommands: [SearchCommand.self, SimilarCommand.self, DuplicatesCommand.self, IndexCommand.self, StatusCommand.self, PlacesCommand.self,
                      ServeCommand.self, ModelsCommand.self, EmbedCommand.self]
    )

    /// Checks the environment the kernels are chosen from, then runs the
    /// command with its arguments read losslessly: a path that is not UTF-8
    /// keeps its bytes (see `FilePaths`), where `CommandLine.arguments` would
    /// replace them.
    static func main() async {
        do {
            _ = try KernelPath.requested()
        } catch {
            Terminal.error("photosearch: error: \(error.localizedDescription)\n")
            Foundation.exit(ExitStatus.usage)
        }
        let arguments = (1..<Int(CommandLine.argc)).map { index in
            FilePaths.string(fromFileSystem: UnsafeBufferPointer(start: CommandLine.unsafeArgv[index]!, count: strlen(CommandLine.unsafeArgv[index]!))
                .map { UInt8(bitPattern: $0) })
        }
        await main(arguments)
    }
}
