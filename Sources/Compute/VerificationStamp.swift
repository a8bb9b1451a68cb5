import FileAccess
#if canImport(Glibc)
import Glibc
#endif

/// A note, beside a file photosearch derives (prepared weights, the vector
/// file), that its checksums were verified: by this boot of the computer,
/// for exactly this file (device, inode, size, modification and change
/// times to the nanosecond). While the note holds, opening the file skips
/// reading all of it to verify it again — a search's largest cost after
/// process start. Any write to the file changes its change time and voids
/// the note; so does a reboot, after which the file is read from disk again.
/// A note that cannot be written (a read-only folder) only costs the check.
public enum VerificationStamp {
    /// This boot (`/proc/sys/kernel/random/boot_id`), nil where unknown.
    static let bootID: String? = {
        guard let bytes = try? RegularFile.contents(of: "/proc/sys/kernel/random/boot_id", limit: 64) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self).filter { $0.isHexDigit || $0 == "-" }
        return text.isEmpty ? nil : text
    }()

    static func notePath(_ path: String) -> String { path + ".verified" }

    /// What the note says for `status`, the open file's fstat.
    static func line(_ status: stat) -> String? {
        guard let bootID else { return nil }
        return "\(bootID) \(status.st_dev) \(status.st_ino) \(status.st_size) "
            + "\(status.st_mtim.tv_sec).\(status.st_mtim.tv_nsec) \(status.st_ctim.tv_sec).\(status.st_ctim.tv_nsec)\n"
    }

    /// Whether the file at `path`, whose open descriptor's fstat is
    /// `status`, was verified in this boot and has not changed since.
    public static func isCurrent(path: String, status: stat) -> Bool {
        guard let expected = line(status), let note = try? RegularFile.contents(of: notePath(path), limit: 256) else { return false }
        return String(decoding: note, as: UTF8.self) == expected
    }

    /// Notes that the file at `path` (fstat `status`, taken before it was
    /// read) has just been verified. Best effort.
    public static func record(path: String, status: stat) {
        guard let text = line(status) else { return }
        let note = notePath(path), temporary = note + ".tmp-\(getpid())"
        let descriptor = FilePaths.withFileSystemRepresentation(temporary) { open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        guard descriptor >= 0 else { return }
        let written = text.withCString { write(descriptor, $0, strlen($0)) }
        close(descriptor)
        let moved = written == text.utf8.count && FilePaths.withFileSystemRepresentation(temporary, { from in
            FilePaths.withFileSystemRepresentation(note) { rename(from, $0) }
        }) == 0
        if !moved { _ = FilePaths.withFileSystemRepresentation(temporary) { unlink($0) } }
    }

    /// Removes the note (the file is being replaced or deleted).
    public static func remove(path: String) {
        _ = FilePaths.withFileSystemRepresentation(notePath(path)) { unlink($0) }
    }
}
