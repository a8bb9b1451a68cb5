import Foundation
import TestSupport

/// Runs the built `photosearch` executable as a child process.
struct CommandRunner {
    struct Result {
        var status: Int32
        var standardOutput: String
        var standardError: String
        /// Standard output as it was written, byte for byte.
        var standardOutputBytes: [UInt8] = []
        /// `.uncaughtSignal` when a signal ended it; `status` is then the signal's number.
        var reason: Process.TerminationReason = .exit
    }

    /// The executable next to the test bundle in the build folder.
    static let executable: URL = {
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var folder = testBinary.deletingLastPathComponent()
        // swift-testing may run from inside the .xctest bundle on some platforms.
        while !FileManager.default.isExecutableFile(atPath: folder.appendingPathComponent("photosearch").path),
              folder.path != "/" {
            folder = folder.deletingLastPathComponent()
        }
        return folder.appendingPathComponent("photosearch")
    }()

    static func fixture(_ relative: String) -> String { FixtureFiles.path(relative) }

    /// `$XDG_CACHE_HOME` of the commands this test process runs.
    static let cacheHome: String = {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("photosearch-tests-cache-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }()

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        try run(executable: executable, arguments, environment: environment)
    }

    /// Runs sqlite3 on `database`, a process of its own as a user's would
    /// be; its standard output, trimmed. A failure throws sqlite3's message.
    static func sqlite(_ database: String, _ sql: String, environment: [String: String] = [:]) throws -> String {
        let result = try run(executable: URL(fileURLWithPath: "/usr/bin/sqlite3"), [database, sql], environment: environment)
        guard result.status == 0 else { throw TestFailure("sqlite3 \(database) \"\(sql.prefix(80))\": \(result.standardError)") }
        return result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs `executable` (photosearch, or a program that starts it) with `arguments`.
    static func run(executable: URL, _ arguments: [String], environment: [String: String] = [:],
                    currentDirectory: String? = nil) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        var merged = ProcessInfo.processInfo.environment
        // Prepared models go to this test run's own cache, not the user's.
        merged["XDG_CACHE_HOME"] = cacheHome
        for (key, value) in environment { merged[key] = value }
        process.environment = merged
        let output = Pipe(), error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        // Read both pipes to the end before waiting, so a full pipe cannot block the child.
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus,
                      standardOutput: String(decoding: outputData, as: UTF8.self),
                      standardError: String(decoding: errorData, as: UTF8.self),
                      standardOutputBytes: Array(outputData), reason: process.terminationReason)
    }
}

/// Runs photosearch as someone who cannot write an index made by the tests:
/// as `nobody`, through setpriv(1), from a world-readable copy of the
/// executable, when the tests run as root (root writes anything); as this
/// user otherwise, the files being made read-only by the test.
enum OtherUser {
    static let isNeeded = getuid() == 0

    /// The executable's copy in a folder every user can read (the build
    /// folder may sit in a private one, as CI's clone does).
    static let executable: URL = {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("photosearch-other-user-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        chmod(folder.path, 0o755)
        let copy = folder.appendingPathComponent("photosearch")
        try! FileManager.default.copyItem(at: CommandRunner.executable, to: copy)
        chmod(copy.path, 0o755)
        return copy
    }()

    /// A copy of the fixture model `name` in a folder every user can read.
    static func model(_ name: String) -> String {
        let folder = executable.deletingLastPathComponent().appendingPathComponent(name)
        if !FileManager.default.fileExists(atPath: folder.path) {
            try! FileManager.default.copyItem(atPath: CommandRunner.fixture("models/" + name), toPath: folder.path)
            chmod(folder.path, 0o755)
            for file in try! FileManager.default.contentsOfDirectory(atPath: folder.path) { chmod(folder.path + "/" + file, 0o644) }
        }
        return folder.path
    }

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> CommandRunner.Result {
        guard isNeeded else { return try CommandRunner.run(arguments, environment: environment) }
        return try CommandRunner.run(executable: URL(fileURLWithPath: "/usr/bin/setpriv"),
                                     ["--reuid=65534", "--regid=65534", "--clear-groups", executable.path] + arguments,
                                     environment: environment.merging(["HOME": "/nonexistent"]) { $1 }, currentDirectory: "/")
    }
}
