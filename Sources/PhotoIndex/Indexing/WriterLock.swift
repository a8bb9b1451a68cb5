import FileAccess
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One writer per index: an exclusive flock(2) on `<index>.lock`. The kernel
/// drops the lock when the holder exits, however it exits (kill -9
/// included), so a crashed run never blocks the next one.
public final class WriterLock {
    private let descriptor: Int32
    public let path: String

    /// Takes the lock without waiting; `writerBusy` if another process has it.
    public init(indexPath: String) throws(PhotoIndexError) {
        path = indexPath + ".lock"
        // Non-blocking, and refused unless a regular file: a FIFO in its
        // place would otherwise hold the open (or the read below) forever.
        // Nor a link: the lock is truncated and written, and whoever can
        // write the index's folder must not make that another file (a
        // symbolic link is not followed; a hard link has a second name).
        let descriptor = FilePaths.withFileSystemRepresentation(path) {
            open($0, O_RDWR | O_CREAT | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | O_NOFOLLOW, 0o644)
        }
        guard descriptor >= 0 else {
            let code = errno
            if code == ELOOP { throw .databaseUnavailable(path: indexPath, reason: "\(path) is a symbolic link (remove it; photosearch makes its own)") }
            throw .databaseUnavailable(path: indexPath, reason: "cannot create \(path): \(systemErrorText(code))")
        }
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
            close(descriptor)
            throw .databaseUnavailable(path: indexPath, reason: "\(path) is not a regular file")
        }
        guard status.st_nlink == 1 else {
            close(descriptor)
            throw .databaseUnavailable(path: indexPath, reason: "\(path) has other names (a hard link; remove it, photosearch makes its own)")
        }
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            var holder: String?
            var text = [UInt8](repeating: 0, count: 32)
            let count = text.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
            if count > 0, let pid = Int(String(decoding: text[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) {
                holder = "process \(pid)"
            }
            close(descriptor)
            if code == EWOULDBLOCK { throw .writerBusy(path: indexPath, holder: holder) }
            throw .databaseUnavailable(path: indexPath, reason: "cannot lock \(path): \(systemErrorText(code))")
        }
        self.descriptor = descriptor
        // Record who holds it, for the busy message.
        let pid = "\(getpid())\n"
        _ = ftruncate(descriptor, 0)
        _ = pid.withCString { pwrite(descriptor, $0, strlen($0), 0) }
    }

    /// The process holding the writer lock of the index at `indexPath`, if
    /// one does: read from the kernel's table of locks (/proc/locks), so that
    /// looking never takes the lock from under a writer that is starting.
    /// nil when no process holds it, however the last writer ended.
    static func holder(indexPath: String) -> Int32? {
        var status = stat()
        guard stat(indexPath + ".lock", &status) == 0,
              let table = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) else { return nil }
        let device = UInt64(status.st_dev), inode = UInt64(status.st_ino)
        // Linux's encoding of dev_t (glibc's gnu_dev_major/minor).
        let major = (device >> 8) & 0xFFF | (device >> 32) & ~UInt64(0xFFF)
        let minor = device & 0xFF | (device >> 12) & ~UInt64(0xFF)
        // "1: FLOCK  ADVISORY  WRITE 20963 fe:00:16220169 0 EOF"
        let file = String(major, radix: 16, uppercase: false).leftPadded(2) + ":" + String(minor, radix: 16).leftPadded(2) + ":\(inode)"
        for line in table.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[1] == "FLOCK", fields[5] == file, let pid = Int32(fields[4]) else { continue }
            return pid
        }
        return nil
    }

    deinit {
        _ = ftruncate(descriptor, 0)
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}

private extension String {
    /// The string with zeros in front up to `width` characters.
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
