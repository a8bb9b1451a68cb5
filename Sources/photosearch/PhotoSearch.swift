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
        Terminal.openClosedStandardDescriptors()
        _ = SignalWatcher.ignoredAtStart   // read before any signal is handled
        Parallel.ensureThreadStacks()
        OpenFileLimit.raise()
        ProcessEnvironment.sanitizeLocale()
        ProcessEnvironment.setHelpColumns()
        if let problem = ProcessEnvironment.currentFolderProblem() {
            Terminal.error("photosearch: error: cannot name the current folder: \(problem); change to a folder that exists\n")
            Foundation.exit(ExitStatus.failure)
        }
        do {
            _ = try KernelPath.requested()
        } catch {
            Terminal.error("photosearch: error: \(Failure.shown(error.localizedDescription))\n")
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
    /// '-"beach" + sunset', '-2:dog', '-hat'. Before, the letters were read
    /// as short options: any "h" among them printed the help and exited 0,
    /// and without one the error was a "missing" query.
    ///
    /// The arguments are read as ArgumentParser reads them, left to right:
    /// an option other than a flag takes the next argument as its value
    /// (`--min-score -0.5`, `--in -folder`) unless it carries it
    /// (`--top=5`). `search` has no short option but -h, so a dash followed
    /// by more than one letter, or by anything but a letter, is the query;
    /// a dash and one letter is left to ArgumentParser (-h, or a mistyped
    /// option, which it names).
    static func queriesAfterSeparator(_ arguments: [String]) -> [String] {
        guard let first = arguments.first, first == "search", !arguments.contains("--") else { return arguments }
        var index = 1
        while index < arguments.count {
            let text = arguments[index].unicodeScalars
            guard text.first == "-", let second = text.dropFirst().first else {
                index += 1
                continue
            }
            if second == "-" {
                // A long option: a flag, one carrying its value, or one taking the next argument.
                let argument = arguments[index]
                index += ResultOptions.flags.contains(argument) || argument == "--help" || argument.contains("=") ? 1 : 2
                continue
            }
            let letter = ("a"..."z").contains(second) || ("A"..."Z").contains(second)
            if text.count == 2 && letter {
                index += 1
                continue
            }
            var arguments = arguments
            let query = arguments.remove(at: index)
            return arguments + ["--", query]
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
