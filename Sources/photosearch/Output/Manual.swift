import ArgumentParser
import Compute
import Foundation

/// `photosearch --generate-manual`: the man page (mdoc), made from the
/// commands' own description (ArgumentParser's help as JSON), with what
/// ArgumentParser's plugin leaves out: each option's default, the
/// environment, the files, the real exit statuses and examples.
/// `scripts/install.sh` installs it as photosearch(1).
enum Manual {
    /// ArgumentParser's description of a command (`--experimental-dump-help`).
    struct Command: Decodable {
        var commandName: String
        var abstract: String?
        var discussion: String?
        var shouldDisplay: Bool?
        var arguments: [Argument]?
        var subcommands: [Command]?
    }

    struct Argument: Decodable {
        struct Name: Decodable {
            var kind: String
            var name: String
        }

        var kind: String
        var names: [Name]?
        var valueName: String?
        var abstract: String?
        var discussion: String?
        var defaultValue: String?
        var allValues: [String]?
        var isOptional: Bool
        var isRepeating: Bool
        var shouldDisplay: Bool
    }

    struct Document: Decodable { var command: Command }

    /// The page for `PhotoSearch`, dated `SOURCE_DATE_EPOCH` when set (a
    /// reproducible build), else today.
    static func page() throws -> String {
        var json = ""
        do {
            _ = try PhotoSearch.parseAsRoot(["--experimental-dump-help"])
        } catch {
            json = PhotoSearch.fullMessage(for: error)
        }
        let document = try JSONDecoder().decode(Document.self, from: Data(json.utf8))
        var seconds = Date().timeIntervalSince1970
        if let value = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"], !value.isEmpty {
            // Whole seconds up to the year 9999, as reproducible-builds.org
            // says; anything else (1e300, nan) gave an empty date.
            guard let given = Int(value), (0...253_402_300_799).contains(given) else { throw ManualError.badEpoch(value) }
            seconds = Double(given)
        }
        return render(document.command, date: Date(timeIntervalSince1970: seconds))
    }

    enum ManualError: LocalizedError {
        case badEpoch(String)

        var errorDescription: String? {
            switch self {
            case let .badEpoch(value):
                "SOURCE_DATE_EPOCH=\(Failure.shown(String(value.prefix(100)))) is not a whole number of seconds since 1970 (up to the year 9999)"
            }
        }
    }

    /// The mdoc source.
    static func render(_ root: Command, date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "MMMM d, yyyy"
        var lines = [
            ".Dd \(formatter.string(from: date))", ".Dt PHOTOSEARCH 1", ".Os", ".Sh NAME", ".Nm photosearch",
            ".Nd \(escaped(root.abstract ?? ""))", ".Sh SYNOPSIS", ".Nm", ".Ar command", ".Op Ar arguments ...",
            ".Nm", ".Fl -version", ".Sh DESCRIPTION",
            text("""
                photosearch finds photos by what they show: a CLIP-family model embeds every photo of the folders \
                you index and every query into one space, and a search ranks the photos by their cosine similarity \
                to the query, offline. Queries are text, example photos, or both; filters (dates, folders, places, \
                file names, cameras) apply before ranking.
                """),
            ".Sh COMMANDS",
        ]
        func section(_ command: Command, path: [String]) {
            guard command.shouldDisplay ?? true, command.commandName != "help" else { return }
            let name = (path + [command.commandName]).joined(separator: " ")
            if !path.isEmpty {
                lines.append(".Ss \"\(escaped(name))\"")
                lines.append(text(command.abstract ?? ""))
                if let discussion = command.discussion, !discussion.isEmpty { lines += [".Pp", text(discussion)] }
                let shown = (command.arguments ?? []).filter { $0.shouldDisplay && !["help", "version"].contains($0.names?.last?.name ?? "") }
                if !shown.isEmpty {
                    lines.append(".Bl -tag -width 6n")
                    for argument in shown { lines += item(argument) }
                    lines.append(".El")
                }
            }
            for sub in command.subcommands ?? [] { section(sub, path: path.isEmpty ? ["photosearch"] : path + [command.commandName]) }
        }
        section(root, path: [])
        lines += [".Sh ENVIRONMENT", ".Bl -tag -width 6n"]
        for (name, meaning) in environment { lines += [".It Ev \(name)", text(meaning)] }
        lines += [".El", ".Sh FILES", ".Bl -tag -width 6n"]
        for (name, meaning) in files { lines += [".It Pa \(escaped(name))", text(meaning)] }
        lines += [".El", ".Sh EXIT STATUS", ".Bl -tag -width 6n"]
        for (status, meaning) in exitStatuses { lines += [".It \(status)", text(meaning)] }
        lines += [".El", ".Sh EXAMPLES"]
        for (index, (meaning, example)) in examples.enumerated() {
            lines += (index > 0 ? [".Pp"] : []) + [text(meaning), ".Bd -literal -offset indent", escaped(example), ".Ed"]
        }
        lines += [".Sh SEE ALSO", ".Xr sqlite3 1 ,", ".Xr xargs 1"]
        return lines.joined(separator: "\n") + "\n"
    }

    /// One option, flag or argument: its names, value, help and default.
    static func item(_ argument: Argument) -> [String] {
        let value = (argument.valueName ?? "value").replacingOccurrences(of: " ", with: "-")
        var head: String
        switch argument.kind {
        case "positional":
            head = ".It Ar \(escaped(value))" + (argument.isRepeating ? " ..." : "")
        default:
            let names = (argument.names ?? []).map { $0.kind == "short" ? "Fl \($0.name)" : "Fl -\($0.name)" }.joined(separator: " , ")
            head = ".It " + names + (argument.kind == "option" ? " Ar \(escaped(value))" : "")
        }
        var help = argument.abstract ?? ""
        if let values = argument.allValues, !values.isEmpty, !help.contains(values[0]) { help += " One of: \(values.joined(separator: ", "))." }
        if let value = argument.defaultValue, !value.isEmpty, !help.lowercased().contains("default") { help += " Default: \(value)." }
        if argument.isRepeating && argument.kind != "positional" && !help.lowercased().contains("repeat") { help += " Repeatable." }
        var lines = [head, text(help)]
        if let discussion = argument.discussion, !discussion.isEmpty { lines += [".Pp", text(discussion)] }
        return lines
    }

    static var environment: [(String, String)] { [
        ("PHOTOSEARCH_DB", "The index database when --db is not given (else $XDG_DATA_HOME/photosearch/index.sqlite)."),
        ("PHOTOSEARCH_MODEL", "The model when --model is not given: an installed model's name or a model folder."),
        ("PHOTOSEARCH_PRECISION", "The encoder's arithmetic when --precision is not given: int8 or fp32."),
        (KernelPath.environmentVariable, "The kernel path to use instead of the best this CPU runs: "
            + KernelPath.allCases.map(\.rawValue).joined(separator: ", ") + " (one this CPU runs)."),
        ("XDG_DATA_HOME", "Where the default index and the installed models live (default: ~/.local/share)."),
        ("XDG_CACHE_HOME", "Where prepared model weights are kept (default: ~/.cache)."),
        ("XDG_STATE_HOME", "Where serve keeps each index's token (default: ~/.local/state)."),
    ] }

    static let files: [(String, String)] = [
        ("$XDG_DATA_HOME/photosearch/index.sqlite", "The default index: photos, their embeddings, places, runs."),
        ("INDEX.vectors", "Beside an index: its vectors as one memory-mapped matrix, rebuilt when stale."),
        ("$XDG_DATA_HOME/photosearch/models/NAME", "An installed model."),
        ("$XDG_CACHE_HOME/photosearch/prepared", "Model weights prepared for this machine's kernels."),
        ("$XDG_STATE_HOME/photosearch/tokens", "The token serve asks other devices for, one file per index (mode 0600)."),
    ]

    /// sysexits(3) where one fits; see `ExitStatus`.
    static let exitStatuses: [(Int32, String)] = [
        (0, "Success (also: a search that found nothing, which says so on standard error)."),
        (ExitStatus.failure, "Failure: no index, an unreadable or damaged file, a model other than the index's."),
        (ExitStatus.noModel, "No model installed, or the model named is not installed."),
        (ExitStatus.usage, "Usage: a malformed command line, query, date, number or filter."),
        (ExitStatus.ioError, "The disk is full, or the standard output cannot be written."),
        (ExitStatus.busy, "Another process is writing the index."),
        (ExitStatus.interrupted, "Interrupted (SIGINT); an index run keeps what it committed."),
        (ExitStatus.terminated, "Terminated (SIGTERM); an index run keeps what it committed."),
        (ExitStatus.hungUp, "Hung up (SIGHUP: its terminal closed); an index run keeps what it committed."),
    ]

    static let examples: [(String, String)] = [
        ("Install the default model, index a folder, search it:",
         "photosearch models install openai-vit-b-32\nphotosearch index ~/Pictures\nphotosearch search 'a dog running on the beach at sunset'"),
        ("Combine texts and an example photo, and open the results:",
         "photosearch search '\"beach\" + 2:~/Pictures/ref/sunset.jpg - \"people\"' --paths --null | xargs -0 eog"),
        ("Filter by date, folder, place, file name and camera:",
         "photosearch search 'tram on a hill in:Lisboa' --after 2019 --before 2020-07\nphotosearch search 'name:IMG_10*' --camera iphone"),
        ("Photos like one, near-identical photos, what the index holds:",
         "photosearch similar ~/Pictures/2023/06/IMG_4411.HEIC --in ~/Pictures/2024\nphotosearch duplicates --threshold 0.97 --paths\nphotosearch status"),
        ("Browse in a web browser, re-indexing every six hours:", "photosearch serve --index ~/Pictures --every 6h"),
    ]

    /// Text as mdoc lines: a line that would start with "." or "'" is
    /// protected, backslashes are escaped.
    static func text(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            let line = escaped(String(line))
            return line.hasPrefix(".") || line.hasPrefix("'") ? "\\&" + line : line
        }.joined(separator: "\n")
    }

    static func escaped(_ text: String) -> String { text.replacingOccurrences(of: "\\", with: "\\e") }
}
