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
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw .databaseUnavailable(path: indexPath, reason: "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            var holder: String?
            if let text = try? String(contentsOfFile: path, encoding: .utf8),
               let pid = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                holder = "process \(pid)"
            }
            close(descriptor)
            if code == EWOULDBLOCK { throw .writerBusy(path: indexPath, holder: holder) }
            throw .databaseUnavailable(path: indexPath, reason: "cannot lock \(path): \(String(cString: strerror(code)))")
        }
        self.descriptor = descriptor
        // Record who holds it, for the busy message.
        let pid = "\(getpid())\n"
        _ = ftruncate(descriptor, 0)
        _ = pid.withCString { pwrite(descriptor, $0, strlen($0), 0) }
    }

    deinit {
        _ = ftruncate(descriptor, 0)
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
