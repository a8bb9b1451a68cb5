import Foundation
import Testing
import TestSupport

/// photosearch(1), as `photosearch --generate-manual` writes it and man
/// shows it: every command and option --help knows, with defaults, the
/// environment, the exit statuses the code uses, and examples.
@Suite("The man page")
struct ManualTests {
    @Test("a SOURCE_DATE_EPOCH that is not whole seconds up to the year 9999 is refused (it gave an empty date)",
          arguments: ["1e300", "nan", "9e18", "-5", "253402300800"])
    func badEpoch(value: String) throws {
        let generated = try CommandRunner.run(["--generate-manual"], environment: ["SOURCE_DATE_EPOCH": value])
        #expect(generated.status == 1 && generated.standardOutput.isEmpty)
        #expect(generated.standardError == "photosearch: error: SOURCE_DATE_EPOCH=\(value) is not a whole number of seconds since 1970 (up to the year 9999)\n")
    }

    @Test("groff finds nothing to warn about; man shows every command's options, defaults, exit statuses and examples")
    func manual() throws {
        let generated = try CommandRunner.run(["--generate-manual"], environment: ["SOURCE_DATE_EPOCH": "1735689600"])
        #expect(generated.status == 0, "\(generated.standardError)")
        let folder = try TemporaryDirectory()
        let page = folder.file("photosearch.1")
        try generated.standardOutput.write(toFile: page, atomically: true, encoding: .utf8)
        #expect(generated.standardOutput.hasPrefix(".Dd January 1, 2025\n.Dt PHOTOSEARCH 1\n"))
        let lint = try CommandRunner.run(executable: URL(fileURLWithPath: "/usr/bin/groff"), ["-mandoc", "-Tutf8", "-ww", "-z", page])
        #expect(lint.status == 0 && lint.standardError.isEmpty, "\(lint.standardError)")
        let shown = try CommandRunner.run(executable: URL(fileURLWithPath: "/usr/bin/man"), ["-l", page],
                                          environment: ["MANWIDTH": "200", "MAN_KEEP_FORMATTING": "", "PAGER": "cat"])
        #expect(shown.status == 0, "\(shown.standardError)")
        // Plain text: man's bold and underline (backspaces) taken out.
        var text = ""
        for character in shown.standardOutput {
            if character == "\u{8}" { text.removeLast() } else { text.append(character) }
        }
        for heading in ["NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "ENVIRONMENT", "FILES", "EXIT STATUS", "EXAMPLES"] {
            #expect(text.contains("\n\(heading)\n"), "\(heading)")
        }
        // Every option each command's --help lists is in its section.
        let commands = [["search"], ["similar"], ["duplicates"], ["index"], ["status"], ["places"], ["serve"], ["embed"],
                        ["models", "install"], ["models", "import"], ["models", "list"], ["models", "remove"], ["models", "default"]]
        let headings = text.ranges(of: /\n   photosearch [a-z ]+\n/).map(\.lowerBound) + [text.range(of: "\nENVIRONMENT\n")!.lowerBound]
        var checked = 0
        for command in commands {
            let heading = "\n   photosearch " + command.joined(separator: " ") + "\n"
            let start = try #require(text.range(of: heading), "\(command)")
            let end = headings.filter { $0 > start.lowerBound }.min()!
            let section = text[start.upperBound..<end]
            let help = try CommandRunner.run(command + ["--help"]).standardOutput
            let options = Set(help.matches(of: /(?m)^\s+(--[a-z-]+)/).map { String($0.1) }).subtracting(["--help", "--version"])
            for option in options { #expect(section.contains(option + " ") || section.contains(option + "\n"), "\(command): \(option)") }
            checked += options.count
        }
        #expect(checked > 50, "the options --help lists were found: \(checked)")
        #expect(text.contains("--top top\n             Number of results. Default: 10."))
        #expect(text.contains("Cosine similarity at or above which two photos count as duplicates. Default: 0.95."))
        for status in ["0", "1", "2", "64", "74", "75", "130", "143"] { #expect(text.contains("\n     \(status) "), "exit status \(status)") }
        #expect(text.contains("photosearch search 'tram on a hill in:Lisboa' --after 2019 --before 2020-07"))
    }
}
