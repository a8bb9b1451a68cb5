import FileAccess
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The token a server reachable from other devices asks for, kept between
/// runs: a phone that opened the printed address holds the token in a
/// cookie for a year, and a new token at every restart (as Jupyter does)
/// would lock every such device out after each reboot.
///
/// One token per index, so that a server of another index (shown to other
/// people) does not open with it: a file in `folder` named after the
/// index's real path, `{"index": PATH, "token": T}`, mode 0600 in a
/// folder of mode 0700. Made by linking a finished file into place, so
/// that two servers starting at once agree on one token; replaced
/// (`--new-token`, which locks out every device that had the old one) by
/// renaming a finished file over it.
public enum KeptToken {
    public struct Kept: Sendable, Equatable {
        public let token: String
        /// The file it is kept in.
        public let file: String
        /// Whether this call made it (first server on the index, or replaced).
        public let made: Bool
    }

    /// The token kept in `folder` for the index at `index`, made if none
    /// is kept (or `replace`). `.tokenNotKept` when no file can be made
    /// there (a read-only home: the caller may serve with a token of this
    /// run only); `.tokenFile` when the kept one cannot be trusted.
    public static func token(in folder: String, index: String, replace: Bool = false) throws(PhotoServerError) -> Kept {
        let index = realPath(index)
        let file = folder + "/" + fileName(index: index)
        try checkFolder(folder)
        if !replace, let token = try read(file, index: index) { return Kept(token: token, file: file, made: false) }
        let token = GalleryServer.makeToken()
        do {
            try makeFolder(folder)
        } catch {
            throw .tokenNotKept(path: folder, reason: error.reason)
        }
        let record = Record(index: FilePaths.unicodeText(index), token: token)
        let temporary = folder + "/.\(fileName(index: index)).\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .withoutEscapingSlashes
            try write(try encoder.encode(record) + Data("\n".utf8), to: temporary)
        } catch let error as SystemError {
            throw .tokenNotKept(path: folder, reason: error.reason)
        } catch {
            throw .tokenNotKept(path: folder, reason: "\(error)")
        }
        defer { FilePaths.withFileSystemRepresentation(temporary) { _ = unlink($0) } }
        let linked = FilePaths.withFileSystemRepresentation(temporary) { from in
            FilePaths.withFileSystemRepresentation(file) { to in replace ? rename(from, to) : link(from, to) }
        }
        if linked == 0 { return Kept(token: token, file: file, made: true) }
        let code = errno
        // Another server on this index kept one first: that one is the token.
        if code == EEXIST, !replace, let token = try read(file, index: index) { return Kept(token: token, file: file, made: false) }
        throw .tokenNotKept(path: file, reason: systemErrorText(code))
    }

    struct Record: Codable {
        let index: String
        let token: String
    }

    /// What the token file of `index` is called: a 64-bit FNV-1a hash of
    /// its path's bytes (the folder is the user's own; a name only needs
    /// to tell their indexes apart, and the file says which it is for).
    static func fileName(index: String) -> String {
        String(format: "%016llx", FNV1a.hash(FilePaths.fileSystemBytes(index))) + ".json"
    }

    /// `path` with links and `..` resolved (an index reached by a link is
    /// the same index). An index not made yet (the first `serve --index`)
    /// is named by its nearest folder that exists, resolved, and the rest:
    /// the name it will have once made, so that its token stays the same.
    static func realPath(_ path: String) -> String {
        var head = FilePaths.absolute(path), tail = ""
        while true {
            let resolved = FilePaths.withFileSystemRepresentation(head) { bytes -> String? in
                guard let resolved = realpath(bytes, nil) else { return nil }
                defer { free(resolved) }
                return FilePaths.string(fromFileSystem: UnsafeBufferPointer(start: resolved, count: strlen(resolved)).map { UInt8(bitPattern: $0) })
            }
            if let resolved { return tail.isEmpty ? resolved : (resolved == "/" ? "" : resolved) + tail }
            if head == "/" || head.isEmpty { return FilePaths.absolute(path) }
            tail = "/" + FilePaths.lastComponent(head) + tail
            head = FilePaths.deletingLastComponent(head)
        }
    }

    /// The folder tokens are kept in, when it is there: the user's own, and
    /// no one else's to write in (where another user could put a token of
    /// theirs, or a file that stops the server from starting).
    static func checkFolder(_ folder: String) throws(PhotoServerError) {
        guard let status = FilePaths.status(folder) else { return }
        guard status.st_uid == geteuid() else { throw .tokenFile(path: folder, reason: "another user owns it") }
        guard status.st_mode & 0o022 == 0 else { throw .tokenFile(path: folder, reason: "other users may write in it (chmod 700 it)") }
    }

    /// The token in `file`, nil when there is none; refused when another
    /// user owns it or may read it (as ssh refuses such keys), or when it
    /// holds anything but a token.
    static func read(_ file: String, index: String) throws(PhotoServerError) -> String? {
        var link = stat()
        if FilePaths.withFileSystemRepresentation(file, { lstat($0, &link) }) == 0, link.st_mode & S_IFMT == S_IFLNK {
            throw .tokenFile(path: file, reason: "it is a symbolic link, not a file photosearch made")
        }
        let opened: RegularFile
        do {
            opened = try RegularFile(path: file)
        } catch .missing {
            return nil
        } catch .cannotOpen(_, let reason) {
            throw .tokenNotKept(path: file, reason: reason)     // a folder on the way that is a file, or unreadable
        } catch {
            throw .tokenFile(path: file, reason: error.reason)
        }
        guard opened.status.st_uid == geteuid() else { throw .tokenFile(path: file, reason: "another user owns it") }
        guard opened.status.st_mode & 0o077 == 0 else {
            throw .tokenFile(path: file, reason: "other users may read it (chmod 600 it, or serve with --new-token)")
        }
        let bytes: [UInt8]
        do {
            bytes = try opened.readAll(limit: 64 << 10)
        } catch {
            throw .tokenFile(path: file, reason: error.reason)
        }
        guard let record = try? JSONDecoder().decode(Record.self, from: Data(bytes)), GalleryServer.isValidToken(record.token) else {
            throw .tokenFile(path: file, reason: "it holds no token photosearch kept (serve with --new-token to replace it)")
        }
        // A file named alike (the name is a 64-bit hash, which can be made
        // to collide) is another index's: its token does not open this one.
        guard record.index == FilePaths.unicodeText(index) else {
            throw .tokenFile(path: file, reason: "it is the token of \(record.index), not of this index (serve with --new-token to replace it)")
        }
        return record.token
    }

    struct SystemError: Error {
        let reason: String
        init(_ code: Int32) { reason = systemErrorText(code) }
    }

    /// `folder` (mode 0700) and the folders above it (as the umask makes
    /// folders: `~/.local` is not only photosearch's).
    static func makeFolder(_ folder: String) throws(SystemError) {
        var made = ""
        for component in folder.split(separator: "/", omittingEmptySubsequences: true) {
            made += "/" + component
            let result = FilePaths.withFileSystemRepresentation(made) { mkdir($0, made == folder ? 0o700 : 0o777) }
            if result != 0, errno != EEXIST { throw SystemError(errno) }
        }
        var status = stat()
        guard FilePaths.withFileSystemRepresentation(folder, { stat($0, &status) }) == 0 else { throw SystemError(errno) }
        guard status.st_mode & S_IFMT == S_IFDIR else { throw SystemError(ENOTDIR) }
    }

    /// `data` in a new file `path` (never an existing one, never through a
    /// link), mode 0600, on disk before it is linked into place.
    static func write(_ data: Data, to path: String) throws(SystemError) {
        let descriptor = FilePaths.withFileSystemRepresentation(path) {
            open($0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        }
        guard descriptor >= 0 else { throw SystemError(errno) }
        defer { close(descriptor) }
        let written = data.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        guard written == data.count else {
            let code = written < 0 ? errno : ENOSPC
            FilePaths.withFileSystemRepresentation(path) { _ = unlink($0) }
            throw SystemError(code)
        }
        guard fsync(descriptor) == 0 else {
            let code = errno
            FilePaths.withFileSystemRepresentation(path) { _ = unlink($0) }
            throw SystemError(code)
        }
    }
}

/// What `PhotoServer` can fail at before serving.
public enum PhotoServerError: Error, Equatable, Sendable, LocalizedError {
    /// The kept token's file is there but cannot be used.
    case tokenFile(path: String, reason: String)
    /// No token file can be made: the token lasts this run only.
    case tokenNotKept(path: String, reason: String)

    public var errorDescription: String? {
        switch self {
        case let .tokenFile(path, reason): "cannot use the token kept in \(FilePaths.displayed(path)): \(reason)"
        case let .tokenNotKept(path, reason): "cannot keep the token in \(FilePaths.displayed(path)): \(reason)"
        }
    }
}
