import ArgumentParser
import Compute
import FileAccess
import Foundation
import Imaging

@main
struct PhotoSearch: AsyncParsableCommand {
    /// What `photosearch --version` prints after the name.
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "photosearch",
        abstract: "Semantic photo search on your own computer.",
        version: "photosearch \(version)",
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
        await run(arguments)
    }

    /// `arguments` with a search's query that starts with "-" moved after
    /// "--", where ArgumentParser takes it as the query: '-people + beach',
    /// '-"beach" + sunset', '-2:dog', '-hat'. `search` has no short option
    /// but -h, so such an argument is a query unless it is one dash and one
    /// letter (-h, or a mistyped option, which ArgumentParser names). Before,
    /// the letters were read as short options: any "h" among them printed the
    /// help and exited 0, and without one the error was a "missing" query.
    /// An option's value (`--min-score -0.5`) stays where it is.
    static func queriesAfterSeparator(_ arguments: [String]) -> [String] {
        guard let first = arguments.first, first == "search", !arguments.contains("--") else { return arguments }
        var arguments = arguments
        if let index = arguments.indices.dropFirst().first(where: { index in
            let text = arguments[index].unicodeScalars, before = arguments[index - 1]
            guard text.first == "-", let second = text.dropFirst().first, second != "-" else { return false }
            let letter = ("a"..."z").contains(second) || ("A"..."Z").contains(second)
            guard text.count > 2 || !letter else { return false }
            return index == 1 || !before.hasPrefix("-") || ResultOptions.flags.contains(before)
        }) {
            let query = arguments.remove(at: index)
            arguments += ["--", query]
        }
        return arguments
    }

    /// Parses and runs a command line. Everything that goes wrong leaves in
    /// one style, the library's errors and a mistyped command line alike:
    /// "photosearch: error: …" on standard error (the latter followed by
    /// the command's usage) and a non-zero exit status (64 for usage);
    /// help and the version go to standard output with status 0.
    static func run(_ arguments: [String]) async -> Never {
        // The man page (scripts/install.sh installs it), not in --help.
        if arguments == ["--generate-manual"] {
            do {
                Terminal.output(try Manual.page())
                Foundation.exit(0)
            } catch {
                Terminal.error("photosearch: error: \(error.localizedDescription)\n")
                Foundation.exit(ExitStatus.failure)
            }
        }
        do {
            var command = try parseAsRoot(queriesAfterSeparator(arguments))
            if var command = command as? AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
            Foundation.exit(0)
        } catch {
            let code = exitCode(for: error)
            let text = fullMessage(for: error)
            if code == .success {
                Terminal.output(text.isEmpty || text.hasSuffix("\n") ? text : text + "\n")
            } else if !text.isEmpty {
                // ArgumentParser's "Error: …", then its usage lines.
                let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
                let first = lines[0].hasPrefix("Error: ") ? "photosearch: error: " + lines[0].dropFirst("Error: ".count) : String(lines[0])
                Terminal.error(([first] + lines.dropFirst().map(String.init)).joined(separator: "\n") + (text.hasSuffix("\n") ? "" : "\n"))
            }
            Foundation.exit(code.rawValue)
        }
    }
}
