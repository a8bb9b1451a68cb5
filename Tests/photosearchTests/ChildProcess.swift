import Foundation

/// A running `photosearch` child whose standard output is read line by line
/// while it runs, so a test can act at a known point of its progress (no
/// sleeps). Its output pipe holds one page: the child blocks once it is a few
/// dozen lines ahead of the test, so it cannot finish a long run before the
/// test has acted on an early line.
final class ChildProcess {
    let process = Process()
    private let output = Pipe()
    private let errors = Pipe()
    private var buffer = Data()
    private(set) var lines: [String] = []

    /// `launcher`: a program (and its arguments) that runs photosearch with
    /// `arguments`, such as prlimit.
    init(_ arguments: [String], launcher: [String] = [], environment extra: [String: String] = [:]) throws {
        if let program = launcher.first {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = Array(launcher.dropFirst()) + [CommandRunner.executable.path] + arguments
        } else {
            process.executableURL = CommandRunner.executable
            process.arguments = arguments
        }
        var environment = ProcessInfo.processInfo.environment
        environment["XDG_CACHE_HOME"] = CommandRunner.cacheHome
        for (key, value) in extra { environment[key] = value }
        process.environment = environment
        process.standardOutput = output
        process.standardError = errors
        // F_SETPIPE_SZ (Linux, 1031): the smallest pipe the kernel allows, one page.
        _ = fcntl(output.fileHandleForWriting.fileDescriptor, 1031, 4096)
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    /// Reads standard output until a line satisfies `condition`; nil at end of output.
    func waitForLine(where condition: (String) -> Bool) -> String? {
        while true {
            while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...newline)
                lines.append(line)
                if condition(line) { return line }
            }
            let chunk = output.fileHandleForReading.availableData   // blocks until data or end of file
            if chunk.isEmpty { return nil }
            buffer.append(chunk)
        }
    }

    func signal(_ number: Int32) {
        kill(process.processIdentifier, number)
    }

    /// Waits for the exit; returns the status and the rest of standard output and error.
    func finish() -> (status: Int32, reason: Process.TerminationReason, remainingOutput: String, standardError: String) {
        _ = waitForLine { _ in false }
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, process.terminationReason, lines.joined(separator: "\n"), errorText)
    }
}

/// A folder of `count` distinct JPEGs (one fixture photo with a unique
/// comment segment each) for runs long enough to interrupt.
func makePhotoFolder(count: Int, fixture: String = "photos/coffee-64.jpg") throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("photosearch-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder.appendingPathComponent("photos"), withIntermediateDirectories: true)
    let original = Array(try Data(contentsOf: URL(fileURLWithPath: CommandRunner.fixture(fixture))))
    for index in 0..<count {
        let comment = Array("photosearch test \(index)".utf8)
        let length = comment.count + 2
        let bytes = Array(original[0..<2]) + [0xFF, 0xFE, UInt8(length >> 8), UInt8(length & 0xFF)] + comment + Array(original[2...])
        try Data(bytes).write(to: folder.appendingPathComponent("photos/photo-\(String(format: "%05d", index)).jpg"))
    }
    return folder
}
