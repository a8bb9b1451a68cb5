#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Paths as photosearch stores, compares and shows them.
///
/// Linux file names are bytes, and old cameras, Windows shares and zip
/// archives produce names that are not UTF-8 (`lat\xe9.jpg`). Swift strings
/// hold Unicode, so photosearch maps bytes to strings losslessly: valid UTF-8
/// stays as it is; each byte of an invalid sequence becomes the code point
/// U+10FF00 + byte (U+10FF80…U+10FFFF, the end of the last private-use
/// plane), and a name that genuinely holds one of those code points has its
/// four bytes escaped the same way, so that every byte string maps to exactly
/// one string and back. Every system call gets the original bytes back
/// (`withFileSystemRepresentation`); `--paths --null` prints them; tables and
/// JSON show the escapes as `\xe9` (`displayed`).
public enum FilePaths {
    /// The code points standing for raw bytes.
    static let escapes: ClosedRange<UInt32> = 0x10FF80...0x10FFFF

    /// The string for a file name or path given as bytes.
    public static func string<Bytes: Collection>(fromFileSystem bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let bytes = Array(bytes)
        if let valid = String(validating: bytes, as: UTF8.self), !valid.unicodeScalars.contains(where: { escapes.contains($0.value) }) {
            return valid      // the usual case
        }
        var scalars = String.UnicodeScalarView()
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        func escape(_ count: Int) {
            for byte in bytes[offset..<(offset + count)] { scalars.append(Unicode.Scalar(0x10FF00 + UInt32(byte))!) }
        }
        parsing: while true {
            switch parser.parseScalar(from: &iterator) {
            case let .valid(encoded):
                let scalar = Unicode.UTF8.decode(encoded)
                if escapes.contains(scalar.value) { escape(encoded.count) } else { scalars.append(scalar) }
                offset += encoded.count
            case let .error(length):
                escape(length)
                offset += length
            case .emptyInput:
                break parsing
            }
        }
        return String(scalars)
    }

    /// The bytes `path` stands for (without a terminating NUL).
    public static func fileSystemBytes(_ path: String) -> [UInt8] {
        guard path.unicodeScalars.contains(where: { escapes.contains($0.value) }) else { return Array(path.utf8) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(path.utf8.count)
        for scalar in path.unicodeScalars {
            if escapes.contains(scalar.value) {
                bytes.append(UInt8(scalar.value - 0x10FF00))
            } else {
                bytes.append(contentsOf: String(scalar).utf8)
            }
        }
        return bytes
    }

    /// Calls `body` with `path` as the NUL-terminated bytes system calls take.
    public static func withFileSystemRepresentation<Result>(_ path: String, _ body: (UnsafePointer<CChar>) throws -> Result) rethrows -> Result {
        var bytes = fileSystemBytes(path).map { CChar(bitPattern: $0) }
        bytes.append(0)
        return try bytes.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }

    /// `path` for people, on a terminal: each escaped byte shown as `\xNN`,
    /// and so is each control character (C0, DEL, C1): a file name must not
    /// move the cursor, retitle the terminal or start a line of its own.
    /// Unicode's bidirectional controls, which can make `gpj.exe` read as
    /// `exe.jpg`, are shown as `\u{NNNN}`.
    public static func displayed(_ path: String) -> String {
        guard path.unicodeScalars.contains(where: { escapes.contains($0.value) || isControl($0.value) }) else { return path }
        var shown = ""
        for scalar in path.unicodeScalars {
            let value = scalar.value
            if escapes.contains(value) {
                shown += hexEscape(value - 0x10FF00)
            } else if value < 0x20 || (0x7F...0x9F).contains(value) {
                shown += hexEscape(value)
            } else if isControl(value) {
                shown += "\\u{" + String(value, radix: 16) + "}"
            } else {
                shown.unicodeScalars.append(scalar)
            }
        }
        return shown
    }

    /// `path` as Unicode text, for JSON (whose strings carry any character,
    /// escaped): as it is when the name is UTF-8; otherwise with each byte
    /// that is not shown as `\xNN` (see `isUnicode`).
    public static func unicodeText(_ path: String) -> String {
        guard !isUnicode(path) else { return path }
        var shown = ""
        for scalar in path.unicodeScalars {
            if escapes.contains(scalar.value) {
                shown += hexEscape(scalar.value - 0x10FF00)
            } else {
                shown.unicodeScalars.append(scalar)
            }
        }
        return shown
    }

    /// Whether `path`'s bytes are UTF-8, so that `unicodeText` is exact.
    public static func isUnicode(_ path: String) -> Bool {
        !path.unicodeScalars.contains(where: { escapes.contains($0.value) })
    }

    /// `\xNN` for a byte (or a control character below 256).
    private static func hexEscape(_ byte: UInt32) -> String {
        "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
    }

    /// Characters that change how a terminal shows what follows.
    private static func isControl(_ value: UInt32) -> Bool {
        value < 0x20 || (0x7F...0x9F).contains(value) || (0x202A...0x202E).contains(value) || (0x2066...0x2069).contains(value)
    }

    /// stat(2) of `path`; nil when it fails.
    public static func status(_ path: String) -> stat? {
        var result = stat()
        return withFileSystemRepresentation(path) { stat($0, &result) } == 0 ? result : nil
    }

    /// lstat(2) of `path` (a link itself, not what it names); nil when it fails.
    public static func linkStatus(_ path: String) -> stat? {
        var result = stat()
        return withFileSystemRepresentation(path) { lstat($0, &result) } == 0 ? result : nil
    }

    /// Whether `path` is `folder` or lies under it. Compared as bytes, as
    /// paths are: String's comparison is by Characters, and a combining mark
    /// after the "/" would join it.
    public static func isWithin(_ path: String, folder: String) -> Bool {
        guard path.utf8.starts(with: folder.utf8) else { return false }
        let rest = path.utf8.dropFirst(folder.utf8.count)
        return rest.isEmpty || folder.utf8.last == UInt8(ascii: "/") || rest.first == UInt8(ascii: "/")
    }

    /// `path` with a leading "~/" replaced by the home folder as shells
    /// find it: `$HOME`, else the user's entry in the password database
    /// (Foundation's NSHomeDirectory reads only the latter on Linux, and so
    /// missed a changed `HOME`: sudo -E, containers, services).
    public static func expandingTilde(_ path: String) -> String {
        guard path.hasPrefix("~/") else { return path }
        return home + path.dropFirst(1)
    }

    /// The home folder: `$HOME` when set and not empty, else the password
    /// database's.
    public static var home: String {
        if let value = getenv("HOME"), value.pointee != 0 { return String(cString: value) }
        if let entry = getpwuid(getuid()), let directory = entry.pointee.pw_dir { return String(cString: directory) }
        return "/"
    }

    /// Whether something exists at `path` (following links).
    public static func exists(_ path: String) -> Bool { status(path) != nil }

    // Foundation's NSString path methods (lastPathComponent, pathExtension,
    // deletingLastPathComponent) trap on "//" followed by a non-ASCII
    // character ("//é"), which anyone can type: these replace them.

    /// The part after the last "/" ("" for a path ending in "/").
    public static func lastComponent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// Everything before the last "/": "/a/b" → "/a", "/a" → "/", "a" → "".
    public static func deletingLastComponent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// The extension of the last component, without the dot ("" for none, or
    /// for a name that only starts with a dot).
    public static func pathExtension(_ path: String) -> String {
        let name = lastComponent(path)
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "" }
        return String(name[name.index(after: dot)...])
    }

    /// The absolute, normalised form of `path` ("." and ".." removed), without
    /// resolving symbolic links: the path the user sees.
    public static func absolute(_ path: String, currentDirectory: String = currentDirectory()) -> String {
        let base = path.hasPrefix("/") ? path : currentDirectory + "/" + path
        var parts: [Substring] = []
        for part in base.split(separator: "/") {
            if part == "." { continue }
            if part == ".." { _ = parts.popLast(); continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// Makes the folder `path` and those above it that are missing, as
    /// `mkdir -p` does (mode 0755 less the umask); nil when they exist, else
    /// why not, naming the folder at fault: "/etc/passwd is not a folder"
    /// (Foundation's createDirectory said "The operation could not be
    /// completed. (NSCocoaErrorDomain error 512.)").
    public static func createFolders(_ path: String) -> String? {
        var folder = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            folder += "/" + part
            if folder == "./." { continue }
            for attempt in 0..<2 {
                if let existing = status(folder) {
                    if existing.st_mode & S_IFMT == S_IFDIR { break }
                    return "\(displayed(folder)) is not a folder"
                }
                if withFileSystemRepresentation(folder, { mkdir($0, 0o755) }) == 0 { break }
                // Made by another process meanwhile: looked at again.
                if errno == EEXIST, attempt == 0 { continue }
                return "cannot create \(displayed(folder)): \(systemErrorText(errno))"
            }
        }
        return nil
    }

    /// The working directory, in the same encoding; "/" when it cannot be
    /// named (the command line refuses to start then: see photosearch's
    /// `ProcessEnvironment.currentFolderProblem`).
    public static func currentDirectory() -> String {
        (try? namedCurrentDirectory().get()) ?? "/"
    }

    /// The working directory, or the error number of why it cannot be named
    /// (ENOENT: deleted; EACCES: a folder above it not searchable).
    public static func namedCurrentDirectory() -> Result<String, SystemError> {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return .failure(SystemError(number: errno)) }
        return .success(string(fromFileSystem: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }))
    }

    /// An error number from the system (`systemErrorText` says it).
    public struct SystemError: Error, Equatable, Sendable {
        public let number: Int32
    }
}
