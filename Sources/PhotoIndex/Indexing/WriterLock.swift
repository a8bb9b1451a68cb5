import FileAccess
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One writer per index: an exclusive flock(2) on `<index>.lock`, and a
/// lock on the index file itself, so that a second writer reaching the same
/// file by another name (a symbolic or hard link: two writers through two
/// names corrupted it) finds it taken. The kernel drops both when the holder
/// exits, however it exits (kill -9 included), so a crashed run never blocks
/// the next one.
public final class WriterLock {
    private let descriptor: Int32
    private let indexFile: Int32?
    public let path: String

    /// The index file's descriptor for its lock, by device and inode: opened
    /// once and kept for the life of the process, since closing any
    /// descriptor of a file drops the process's POSIX locks on it, SQLite's
    /// own included.
    private static let indexFiles = Mutex<[FileIdentity: Int32]>([:])

    /// The byte of the index file locked (an open-file-description lock,
    /// F_OFD_SETLK): past the bytes SQLite locks (1 GiB to 1 GiB + 512), so
    /// that it never meets SQLite's locks, whatever process holds them.
    private static let lockedByte = 0x4000_1000
    private static let setLock: Int32 = 37   // F_OFD_SETLK (Linux 3.15)

    /// Takes the index file's lock; `writerBusy` if another writer holds it,
    /// nil where it cannot be taken (no file yet, a file system without such
    /// locks): the lock file alone then.
    private static func lockIndexFile(_ indexPath: String) throws(PhotoIndexError) -> Int32? {
        guard let status = FilePaths.status(indexPath), (status.st_mode & S_IFMT) == S_IFREG else { return nil }
        let key = FileIdentity(status)
        let descriptor = indexFiles.withLock { files -> Int32 in
            // Index files deleted since (a backup restored over one by `mv`,
            // an index removed), which no process can open again: let go,
            // or each such file's space stayed held until this process ended
            // (a long-running server or `--every` opens the path anew).
            for (other, open) in files where other != key {
                var status = stat()
                if fstat(open, &status) == 0, status.st_nlink == 0 {
                    close(open)
                    files[other] = nil
                }
            }
            if let open = files[key] { return open }
            let opened = FilePaths.withFileSystemRepresentation(indexPath) { open($0, O_RDWR | O_NONBLOCK | O_NOCTTY | O_CLOEXEC) }
            var opens = stat()
            guard opened >= 0 else { return -1 }
            guard fstat(opened, &opens) == 0, FileIdentity(opens) == key else {
                close(opened)   // replaced in between: never locked, so closing drops nothing
                return -1
            }
            files[key] = opened
            return opened
        }
        guard descriptor >= 0 else { return nil }
        guard setIndexFileLock(descriptor, F_WRLCK) == 0 else {
            let code = errno
            if code == EAGAIN || code == EACCES { throw .writerBusy(path: indexPath, holder: nil) }
            return nil
        }
        return descriptor
    }

    /// Sets (F_WRLCK) or clears (F_UNLCK) the lock on `lockedByte`.
    private static func setIndexFileLock(_ descriptor: Int32, _ type: Int32) -> Int32 {
        var lock = flock()
        lock.l_type = Int16(type)
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = lockedByte
        lock.l_len = 1
        return fcntl(descriptor, setLock, &lock)
    }

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
        do {
            indexFile = try Self.lockIndexFile(indexPath)
        } catch {
            flock(descriptor, LOCK_UN)
            close(descriptor)
            throw error
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
        if let indexFile { _ = Self.setIndexFileLock(indexFile, F_UNLCK) }
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
