#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A regular file open for reading: the one way photosearch opens a file
/// it reads (photos, weights, prepared weights, configurations, the vector
/// file).
///
/// Opening checks the descriptor, not the path: the file is opened first,
/// without blocking, and `fstat` then refuses anything that is not a
/// regular file. A FIFO or a device where a photo or a weights file belongs
/// would otherwise block the process forever (opening a FIFO for reading
/// waits for a writer) or stream without end, and checking the path before
/// opening it leaves a window in which it can be replaced.
public final class RegularFile {
    public let path: String
    /// The size when it was opened.
    public let size: Int
    /// fstat(2) of the open file.
    public let status: stat
    /// The open descriptor, closed with this object.
    public let descriptor: Int32

    public init(path: String) throws(FileAccessError) {
        self.path = path
        let opened = FilePaths.withFileSystemRepresentation(path) { open($0, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC) }
        guard opened >= 0 else {
            let code = errno
            throw code == ENOENT ? .missing(path: path) : .cannotOpen(path: path, reason: systemErrorText(code))
        }
        var status = stat()
        guard fstat(opened, &status) == 0 else {
            let code = errno
            close(opened)
            throw .cannotOpen(path: path, reason: systemErrorText(code))
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            close(opened)
            throw .notRegularFile(path: path, kind: Self.kind(status.st_mode))
        }
        // Reads from a regular file never block anyway; clear the flag so
        // that nothing downstream sees EAGAIN.
        _ = fcntl(opened, F_SETFL, fcntl(opened, F_GETFL) & ~O_NONBLOCK)
        descriptor = opened
        self.status = status
        size = Int(status.st_size)
    }

    deinit { close(descriptor) }

    /// What a file that is not regular is, for messages.
    static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: return "a folder"
        case S_IFIFO: return "a named pipe (FIFO)"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        default: return "not a regular file"
        }
    }

    /// Reads up to `bytes.count - start` bytes from `offset` into `bytes`
    /// from `start`; fewer only at the end of the file.
    func read(into bytes: inout [UInt8], from start: Int = 0, at offset: Int) throws(FileAccessError) -> Int {
        let result = bytes.withUnsafeMutableBytes { buffer in
            Result { () throws(FileAccessError) in try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[start...]), at: offset) }
        }
        return try result.get()
    }

    /// Reads up to `buffer.count` bytes from `offset`; fewer only at the end
    /// of the file.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(FileAccessError) -> Int {
        var filled = 0
        while filled < buffer.count {
            let count = pread(descriptor, buffer.baseAddress! + filled, buffer.count - filled, off_t(offset + filled))
            if count < 0 {
                if errno == EINTR { continue }
                throw .cannotRead(path: path, reason: systemErrorText(errno))
            }
            if count == 0 { break }
            filled += count
        }
        return filled
    }

    /// The first `count` bytes (fewer when the file is shorter).
    public func prefix(_ count: Int) throws(FileAccessError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let filled = try read(into: &bytes, at: 0)
        bytes.removeSubrange(filled...)
        return bytes
    }

    /// The whole file; refused, before anything is read, when it is larger
    /// than `limit` bytes, and while reading when it grows past it.
    public func readAll(limit: Int) throws(FileAccessError) -> [UInt8] {
        guard size <= limit else { throw .tooLarge(path: path, size: size, limit: limit) }
        var bytes = [UInt8](repeating: 0, count: size)
        var filled = try read(into: &bytes, at: 0)
        if filled == size {
            // It may have grown since it was opened: read on in chunks.
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = try read(into: &chunk, at: filled)
                if count == 0 { break }
                guard filled + count <= limit else { throw .tooLarge(path: path, size: filled + count, limit: limit) }
                bytes += chunk[..<count]
                filled += count
            }
        }
        bytes.removeSubrange(filled...)
        return bytes
    }

    /// The whole regular file at `path`, at most `limit` bytes.
    public static func contents(of path: String, limit: Int) throws(FileAccessError) -> [UInt8] {
        try RegularFile(path: path).readAll(limit: limit)
    }

    /// Calls `body` with the file's bytes in order, `chunk` bytes at a time
    /// (the last part shorter), without holding more than one chunk.
    public func forEachChunk(_ chunk: Int = 8 << 20, _ body: (UnsafeRawBufferPointer) -> Void) throws(FileAccessError) {
        _ = posix_fadvise(descriptor, 0, 0, POSIX_FADV_SEQUENTIAL)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 64)
        defer { buffer.deallocate() }
        var offset = 0
        while true {
            let count = try read(into: buffer, at: offset)
            if count == 0 { break }
            body(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            offset += count
        }
    }
}

/// Everything that can go wrong opening and reading a file.
public enum FileAccessError: Error, Equatable, Sendable, CustomStringConvertible {
    case missing(path: String)
    case cannotOpen(path: String, reason: String)
    case notRegularFile(path: String, kind: String)
    case tooLarge(path: String, size: Int, limit: Int)
    case cannotRead(path: String, reason: String)

    /// The problem without the path.
    public var reason: String {
        switch self {
        case .missing: return "no such file or directory"
        case let .cannotOpen(_, reason), let .cannotRead(_, reason): return reason
        case let .notRegularFile(_, kind): return "it is \(kind), not a regular file"
        case let .tooLarge(_, size, limit): return "it is \(Self.megabytes(size)), above the limit of \(Self.megabytes(limit))"
        }
    }

    public var path: String {
        switch self {
        case let .missing(path), let .cannotOpen(path, _), let .notRegularFile(path, _), let .tooLarge(path, _, _),
             let .cannotRead(path, _):
            return path
        }
    }

    public var description: String { "cannot read \(FilePaths.displayed(path)): \(reason)" }

    static func megabytes(_ bytes: Int) -> String {
        bytes >= 1 << 20 ? "\(bytes >> 20) MiB" : "\(bytes) bytes"
    }
}

/// strerror's text, lower-cased to continue a sentence.
public func systemErrorText(_ code: Int32) -> String {
    String(cString: strerror(code)).lowercased()
}
