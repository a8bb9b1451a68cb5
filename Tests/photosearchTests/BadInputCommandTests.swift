import Foundation
import Testing
import TestSupport

@Suite("Absurd numbers and dates are refused: one line, exit 64, never a crash")
struct BadInputCommandTests {
    static let model = CommandRunner.fixture("models/oc-vit-gelu-p16")

    @Test("out-of-range options", arguments: [
        (["search", "cat", "--top", "100000000"], "photosearch: error: --top must be between 1 and 10000."),
        (["search", "cat", "--top", "4611686018427387904"], "photosearch: error: --top must be between 1 and 10000."),
        (["similar", "x.jpg", "--top", "0"], "photosearch: error: --top must be between 1 and 10000."),
        (["search", "cat", "--min-score", "nan"], "photosearch: error: --min-score must be between -1 and 1."),
        (["search", "cat", "--after", "2023-02-30"], "photosearch: error: invalid date \"2023-02-30\"; use YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]."),
        (["search", "cat", "--before", "2023-13"], "photosearch: error: invalid date \"2023-13\"; use YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]."),
        (["search", "cat", "--after", "2025", "--before", "2024"],
         "photosearch: error: invalid dates: after 2025-01-01T00:00:00 is not before 2024-01-01T00:00:00, so no photo can match."),
        (["similar", "x.jpg", "--after", "2024-06", "--before", "2024-06"],
         "photosearch: error: invalid dates: after 2024-06-01T00:00:00 is not before 2024-06-01T00:00:00, so no photo can match."),
        (["index", "/tmp", "--jobs", "100000"], "photosearch: error: --jobs must be between 1 and 64."),
        (["index", "/tmp", "--batch-size", "1000000"], "photosearch: error: --batch-size must be between 1 and 256."),
        (["index", "/tmp", "--every", "1e300d"], "photosearch: error: --every must be between 1s and 366d."),
        (["index", "/tmp", "--every", "0.1s"], "photosearch: error: --every must be between 1s and 366d."),
        (["index", "/tmp", "--every", "0s"], "photosearch: error: --every must be between 1s and 366d."),
        // Empty (an unset shell variable): not the current folder.
        (["search", "cat", "--in", ""], "photosearch: error: --in is empty: give a folder."),
        (["duplicates", "--in", ""], "photosearch: error: --in is empty: give a folder."),
        // A file: no photo is under it (before, "no indexed photo is under" it).
        (["search", "cat", "--in", "/etc/passwd"], "photosearch: error: --in takes a folder, and /etc/passwd is a file."),
        (["duplicates", "--in", "/etc/passwd"], "photosearch: error: --in takes a folder, and /etc/passwd is a file."),
        (["index", "/tmp", "--every", "6x"], "photosearch: error: --every takes a number and a unit, like 30s, 30m, 6h or 1d."),
        (["serve", "--index", "/tmp", "--every", "0m"], "photosearch: error: --every must be between 1s and 366d."),
        (["duplicates", "--threshold", "nan"], "photosearch: error: --threshold must be in (-1, 1]."),
        // Negative numbers are values, not options ("Missing value for '--batch-size'").
        (["index", "/tmp", "--batch-size", "-1"], "photosearch: error: --batch-size must be between 1 and 256."),
        (["index", "/tmp", "--jobs", "-1"], "photosearch: error: --jobs must be between 1 and 64."),
        (["search", "cat", "--top", "-5"], "photosearch: error: --top must be between 1 and 10000."),
        (["serve", "--port", "-1"], "photosearch: error: --port must be between 0 and 65535."),
    ])
    func refused(arguments: [String], message: String) throws {
        let result = try CommandRunner.run(arguments + ["--db", "/nonexistent/index.sqlite"])
        #expect(result.status == 64)
        #expect(result.standardError.hasPrefix(message + "\n"), "\(result.standardError)")
        #expect(result.standardOutput.isEmpty)
    }

    @Test("an empty --db is refused, not the default index")
    func emptyDatabase() throws {
        for command in [["status"], ["search", "cat"], ["index", "/tmp"], ["places"]] {
            let result = try CommandRunner.run(command + ["--db", ""])
            #expect(result.status == 64, "\(command)")
            #expect(result.standardError.hasPrefix("photosearch: error: --db is empty: give the index's path, or leave --db out for the default index.\n"),
                    "\(command): \(result.standardError)")
        }
    }

    @Test("a mistyped command line: the same error style as every other error, then the usage; exit 64")
    func mistyped() throws {
        for (arguments, usage) in [(["search"], "Usage: photosearch search [<options>] <query>"),
                                   (["search", "cat", "--topp", "3"], "Usage: photosearch search [<options>] <query>"),
                                   (["serach", "cat"], "Usage: photosearch <subcommand>")] {
            let result = try CommandRunner.run(arguments)
            let lines = result.standardError.split(separator: "\n").map(String.init)
            #expect(result.status == 64, "\(arguments)")
            #expect(lines.first?.hasPrefix("photosearch: error: ") == true, "\(result.standardError)")
            #expect(lines.dropFirst().contains(usage), "\(result.standardError)")
            #expect(result.standardOutput.isEmpty)
        }
        let missing = try CommandRunner.run(["search"])
        #expect(missing.standardError.hasPrefix("photosearch: error: Missing expected argument '<query>'\n"))
    }

    @Test("--version: the name and version on standard output, exit 0; --help too")
    func version() throws {
        let result = try CommandRunner.run(["--version"])
        #expect(result.status == 0)
        #expect(result.standardOutput == "photosearch 0.1.0\n")
        #expect(result.standardError.isEmpty)
        let help = try CommandRunner.run(["search", "--help"])
        #expect(help.status == 0 && help.standardError.isEmpty)
        #expect(help.standardOutput.hasPrefix("OVERVIEW: "), "\(help.standardOutput.prefix(200))")
    }

    @Test("an output that cannot be written (a full disk, a reader gone with SIGPIPE ignored, as systemd runs services) is one line and exit 74, not a crash, as is a closed one; a closed standard error is /dev/null")
    func unwritableOutput() throws {
        let folder = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: folder.file("photos"), withIntermediateDirectories: true)
        for name in ["chelsea.png", "rocket.jpg", "camera.png"] {
            try FileManager.default.copyItem(atPath: CommandRunner.fixture("photos/" + name), toPath: folder.file("photos/" + name))
        }
        let database = folder.file("index.sqlite")
        let shell = URL(fileURLWithPath: "/bin/sh")
        let photosearch = CommandRunner.executable.path
        // Standard error closed: the run goes on, and the index is written.
        let closed = try CommandRunner.run(executable: shell, ["-c", "\"$0\" index \"$1\" --db \"$2\" --model \"$3\" 2>&-",
                                                              photosearch, folder.file("photos"), database, Self.model])
        #expect(closed.status == 0, "\(closed.standardError)")
        #expect(try CommandRunner.sqlite(database, "SELECT count(*) FROM photos WHERE state = 'indexed'") == "3")

        let full = try CommandRunner.run(executable: shell, ["-c", "\"$0\" status --db \"$1\" --json > /dev/full", photosearch, database])
        #expect(full.status == 74)
        #expect(full.standardError == "photosearch: error: cannot write to the standard output: no space left on device\n")
        let closedOutput = try CommandRunner.run(executable: shell, ["-c", "\"$0\" status --db \"$1\" --json >&-", photosearch, database])
        #expect(closedOutput.status == 74)
        #expect(closedOutput.standardError == "photosearch: error: cannot write to the standard output: it is closed\n")
        let help = try CommandRunner.run(executable: shell, ["-c", "\"$0\" --help > /dev/full", photosearch])
        #expect(help.status == 74 && help.standardError.hasSuffix("no space left on device\n"), "\(help.standardError)")

        // A reader that stops after one byte, SIGPIPE ignored: the scheduled
        // runs end at the next line they print (a run's at the latest).
        let gone = try CommandRunner.run(executable: URL(fileURLWithPath: "/bin/bash"), ["-c", """
            trap '' PIPE; "$0" index "$1" --db "$2" --model "$3" --json --every 1s | head -c 1; echo "status ${PIPESTATUS[0]}" >&2
            """, photosearch, folder.file("photos"), database, Self.model])
        #expect(gone.standardOutput == "{")
        #expect(gone.standardError == "photosearch: error: cannot write to the standard output: broken pipe\nstatus 74\n", "\(gone.standardError)")
        #expect(!gone.standardError.contains("Fatal error"), "\(gone.standardError)")

        // A run whose first line cannot be written stops as an interrupted
        // run (not left running, for `status` to call killed), one-shot or
        // scheduled, and exits 74.
        for (number, schedule) in [(1, [String]()), (2, ["--every", "1h"])] {
            try FileManager.default.copyItem(atPath: CommandRunner.fixture("photos/coffee-64.jpg"), toPath: folder.file("photos/new-\(number).jpg"))
            let stopped = try CommandRunner.run(executable: shell, ["-c", "p=$1 d=$2 m=$3; shift 3; \"$0\" index \"$p\" --db \"$d\" --model \"$m\" --json \"$@\" > /dev/full",
                                                                   photosearch, folder.file("photos"), database, Self.model] + schedule)
            #expect(stopped.status == 74)
            #expect(stopped.standardError == "photosearch: error: cannot write to the standard output: no space left on device\n", "\(stopped.standardError)")
            #expect(try CommandRunner.sqlite(database, "SELECT status FROM runs ORDER BY id DESC LIMIT 1") == "interrupted")
        }
        #expect(!(try CommandRunner.run(["status", "--db", database]).standardOutput.contains("killed")))
    }

    @Test("a locale or a terminal width the libraries below would choke on: the locale is taken as C, the width as 40 at least",
          arguments: [["LANG": "aaaaaaaaaaaa_b"], ["LC_ALL": "123456789012"], ["LC_TIME": String(repeating: "x", count: 300)],
                      ["LANGUAGE": "en:aaaaaaaaaaaaaaaaa_b"], ["COLUMNS": "0"], ["COLUMNS": "-5"], ["COLUMNS": "20"], ["COLUMNS": "abc"]])
    func hostileEnvironment(environment: [String: String]) throws {
        let folder = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: folder.file("photos"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: CommandRunner.fixture("photos/chelsea.png"), toPath: folder.file("photos/cat.png"))
        let database = folder.file("index.sqlite")
        // Before: SIGSEGV in ICU under Foundation's date formatting (index
        // records its run's time, status shows it), SIGILL in ArgumentParser's
        // help wrapping.
        let index = try CommandRunner.run(["index", folder.file("photos"), "--db", database, "--model", Self.model], environment: environment)
        #expect(index.status == 0, "\(index.standardError)")
        let status = try CommandRunner.run(["status", "--db", database], environment: environment)
        #expect(status.status == 0 && status.standardOutput.contains("Last run: completed"), "\(status.standardError)")
        for arguments in [["help", "search"], ["index", "--help"], []] {
            let help = try CommandRunner.run(arguments, environment: environment)
            #expect(help.status == 0, "\(arguments): \(help.standardError)")
            #expect(help.standardOutput.contains("USAGE: photosearch") && !help.standardError.contains("Fatal"))
        }
        let usage = try CommandRunner.run(["search"], environment: environment)
        #expect(usage.status == 64 && usage.standardError.hasPrefix("photosearch: error: "), "\(usage.standardError)")
    }

    @Test("small limits: a stack of 128 KB, a soft limit of 16 open files; serve under a hard one refuses in a line")
    func smallLimits() throws {
        let folder = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: folder.file("photos"), withIntermediateDirectories: true)
        for name in ["chelsea.png", "rocket.jpg", "camera.png", "coffee.heic", "chelsea.webp"] {
            try FileManager.default.copyItem(atPath: CommandRunner.fixture("photos/" + name), toPath: folder.file("photos/" + name))
        }
        let database = folder.file("index.sqlite")
        func limited(_ limit: String, _ arguments: [String]) throws -> CommandRunner.Result {
            try CommandRunner.run(executable: URL(fileURLWithPath: "/bin/bash"),
                                  ["-c", "ulimit \(limit) || exit 99; exec \"$0\" \"$@\"", CommandRunner.executable.path] + arguments)
        }
        // Threads' stacks are the stack limit by default: the encoders
        // overflowed 256 KB (SIGSEGV, no message).
        let index = try limited("-s 128", ["index", folder.file("photos"), "--db", database, "--model", Self.model, "--json"])
        #expect(index.status == 0, "\(index.status): \(index.standardError.prefix(300))")
        #expect(index.standardOutput.contains(#""added":5"#) && index.standardOutput.contains(#""failed":0"#), "\(index.standardOutput.suffix(300))")
        let search = try limited("-s 128", ["search", "a cat", "--paths", "--db", database, "--model", Self.model])
        #expect(search.status == 0 && search.standardOutput.split(separator: "\n").count == 5, "\(search.standardError.prefix(300))")
        // A soft limit of 16 descriptors is raised to the hard one: before,
        // photos were recorded as failed ("too many open files").
        try FileManager.default.removeItem(atPath: database)
        let few = try limited("-S -n 16", ["index", folder.file("photos"), "--db", database, "--model", Self.model, "--json"])
        #expect(few.status == 0 && few.standardOutput.contains(#""failed":0"#), "\(few.standardOutput.suffix(300)) \(few.standardError.prefix(300))")
        // No way to raise it: serve says so (SwiftNIO trapped on its epoll).
        let serve = try limited("-n 16", ["serve", "--db", database, "--model", Self.model, "--port", "0"])
        #expect(serve.status == 1)
        #expect(serve.standardError == "photosearch: error: serve needs at least 128 open files, and the limit is 16 (ulimit -n)\n", "\(serve.standardError)")
    }

    @Test("on a terminal, the progress line is redrawn in place; with TERM=dumb it is not (no escape sequences)", arguments: ["xterm", "dumb"])
    func dumbTerminal(term: String) throws {
        let folder = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: folder.file("photos"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: CommandRunner.fixture("photos/chelsea.png"), toPath: folder.file("photos/cat.png"))
        // script(1) gives the command a terminal and copies what it shows.
        let shown = try CommandRunner.run(executable: URL(fileURLWithPath: "/usr/bin/script"), [
            "-qec", "TERM=\(term) '\(CommandRunner.executable.path)' index '\(folder.file("photos"))' --db '\(folder.file("index.sqlite"))' --model '\(Self.model)'",
            "/dev/null",
        ])
        #expect(shown.status == 0, "\(shown.standardError)")
        #expect(shown.standardOutput.contains("1 photo: 1 added"), "\(shown.standardOutput)")
        #expect(shown.standardOutput.contains("\u{1B}[K") == (term != "dumb"), "\(shown.standardOutput.debugDescription)")
    }

    @Test("a home that is a file: each folder that cannot be made is named, with why")
    func homeIsAFile() throws {
        let folder = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: folder.file("photos"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: CommandRunner.fixture("photos/chelsea.png"), toPath: folder.file("photos/cat.png"))
        try Data("not a folder".utf8).write(to: URL(fileURLWithPath: folder.file("home")))
        let home = ["HOME": folder.file("home"), "XDG_DATA_HOME": "", "XDG_CACHE_HOME": "", "PHOTOSEARCH_MODEL": "", "PHOTOSEARCH_DB": ""]
        // The prepared-weights cache cannot be kept: said, and the run goes on.
        let index = try CommandRunner.run(["index", folder.file("photos"), "--db", folder.file("index.sqlite"), "--model", Self.model], environment: home)
        #expect(index.status == 0, "\(index.standardError)")
        #expect(index.standardError.contains(": \(folder.file("home")) is not a folder\n"), "\(index.standardError)")
        #expect(!index.standardError.contains("NSCocoaErrorDomain"))
        // The default index's folder, and the model store's, cannot be made.
        let search = try CommandRunner.run(["index", folder.file("photos"), "--model", Self.model], environment: home)
        #expect(search.status == 1 && search.standardError.contains("\(folder.file("home")) is not a folder\n"), "\(search.standardError)")
        let imported = try CommandRunner.run(["models", "import", Self.model, "--name", "small"], environment: home)
        #expect(imported.status == 1 && imported.standardError.hasSuffix(": \(folder.file("home")) is not a folder\n"), "\(imported.standardError)")
    }

    @Test("a current folder that no longer exists: one line and exit 1, before any path is read against it (index . walked /)")
    func deletedCurrentFolder() throws {
        let folder = try TemporaryDirectory()
        let gone = folder.file("gone")
        try FileManager.default.createDirectory(atPath: gone, withIntermediateDirectories: true)
        let result = try CommandRunner.run(executable: URL(fileURLWithPath: "/bin/sh"), [
            "-c", "cd \"$1\" && rmdir \"$1\" && exec \"$0\" index . --db \"$2\" --model \"$3\"",
            CommandRunner.executable.path, gone, folder.file("index.sqlite"), Self.model,
        ])
        #expect(result.status == 1)
        #expect(result.standardError == "photosearch: error: cannot name the current folder: it no longer exists (deleted, or moved away?); change to a folder that exists\n",
                "\(result.standardError)")
        #expect(!FileManager.default.fileExists(atPath: folder.file("index.sqlite")))
    }

    @Test("a leap day is a date")
    func leapDay() throws {
        let result = try CommandRunner.run(["search", "cat", "--after", "2024-02-29", "--db", "/nonexistent/index.sqlite",
                                            "--model", Self.model])
        #expect(result.status == 1)
        #expect(result.standardError.hasPrefix("photosearch: error: no index at /nonexistent/index.sqlite"))
    }
}
