import Foundation

/// Runs a child and reports its own peak memory. The child is started by
/// GNU time, which reaps it with wait4(2) and writes its maximum resident
/// size: a child spawned straight from the test process would be charged
/// the test process's own peak (Linux carries a process's high-water mark
/// across fork and exec), hundreds of megabytes late in a test run.
enum ChildResources {
    struct Outcome {
        var status: Int32
        var peakResidentBytes: Int
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> Outcome {
        let report = FileManager.default.temporaryDirectory.appendingPathComponent("photosearch-rss-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: report) }
        var pid: pid_t = 0
        let argv = (["/usr/bin/time", "-f", "%M", "-o", report, executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let spawned = posix_spawn(&pid, "/usr/bin/time", &actions, nil, argv, environ)
        guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EINVAL) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // GNU time exits with the child's status.
        let kilobytes = (try? String(contentsOfFile: report, encoding: .utf8))?
            .split(separator: "\n").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        return Outcome(status: (status >> 8) & 0xFF, peakResidentBytes: (kilobytes ?? Int.max / 1024) * 1024)
    }
}
