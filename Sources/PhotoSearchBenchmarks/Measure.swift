import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Timing and summarising, shared by the benchmarks.
enum Measure {
    /// Wall time of `body` in milliseconds.
    static func milliseconds(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    }

    static func seconds(since start: UInt64) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// The value at `fraction` of the sorted values (nearest rank).
    static func percentile(_ values: [Double], _ fraction: Double) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * fraction).rounded()))]
    }

    static func median(_ values: [Double]) -> Double { percentile(values, 0.5) }

    /// Two decimals are all a benchmark's figure can honestly claim.
    static func rounded(_ value: Double, decimals: Double = 2) -> Double {
        let scale = pow(10, decimals)
        return (value * scale).rounded() / scale
    }

    /// The process's peak resident memory so far, in MB.
    static func peakResidentMegabytes() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_maxrss) / 1024
    }

    /// What a child process used: its wall time and its own peak resident
    /// memory (wait4's rusage, not this process's).
    struct ChildUsage {
        var seconds: Double
        var peakResidentMegabytes: Double
    }

    /// Runs `executable` to the end with its output discarded; nil when it
    /// cannot start or exits with another status than 0.
    static func child(_ executable: String, _ arguments: [String], environment: [String: String]) -> ChildUsage? {
        var pid: pid_t = 0
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        // glibc's posix_spawn runs the child in this process's memory until
        // it execs, and Linux carries that memory's high-water mark into
        // the child's ru_maxrss: reset it to this process's current size
        // first, or the child is charged with this process's own peak (the
        // photos it made, ~900 MB).
        resetPeakResidentMemory()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let start = DispatchTime.now().uptimeNanoseconds
        guard posix_spawn(&pid, executable, &actions, nil, argv, envp) == 0 else { return nil }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        let seconds = Measure.seconds(since: start)
        guard status == 0 else { return nil }
        return ChildUsage(seconds: seconds, peakResidentMegabytes: Double(usage.ru_maxrss) / 1024)
    }

    /// Sets this process's peak resident memory to its current one
    /// (`/proc/self/clear_refs`, Linux 4.0 on); no effect where refused.
    static func resetPeakResidentMemory() {
        let descriptor = open("/proc/self/clear_refs", O_WRONLY)
        guard descriptor >= 0 else { return }
        _ = write(descriptor, "5", 1)
        close(descriptor)
    }

    /// Wall time of a child process run to the end, in milliseconds; nil when
    /// it cannot start or exits with another status than 0. Timed from
    /// posix_spawn to wait4 on a monotonic clock (Foundation's
    /// `Process.waitUntilExit` polls a run loop on Linux, which quantised
    /// the figures).
    static func process(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) -> Double? {
        child(executable, arguments, environment: environment ?? ProcessInfo.processInfo.environment).map { $0.seconds * 1000 }
    }
}
