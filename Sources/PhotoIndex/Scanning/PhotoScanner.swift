import FileAccess
import Foundation
import Imaging
#if canImport(Glibc)
import Glibc
#endif

/// A photo file found on disk.
public struct ScannedFile: Sendable, Equatable {
    public var path: String
    public var size: Int64
    /// st_mtim in nanoseconds.
    public var modifiedAt: Int64
}

/// What a scan found.
public struct ScanResult: Sendable {
    public var files: [ScannedFile] = []
    /// Folders that could not be read, and entries that could not be looked
    /// at (a path past PATH_MAX), with the reason. Photos the index holds
    /// there are kept: they were not seen, not necessarily gone.
    public var unreadableFolders: [(path: String, reason: String)] = []
    /// Files seen that are not photos (by their extension; hidden and
    /// excluded ones not counted): why a folder gave no photos.
    public var otherFiles = 0
    /// Roots that do not exist (an unplugged drive's folder, a typo).
    public var missingRoots: [String] = []
}

/// Walks folders for photos: .jpg .jpeg .png .webp .heic .heif in any case;
/// hidden files and folders (name starting with ".") are skipped; symbolic
/// links are followed, but a folder reached twice (a link loop, or two links
/// to one place) is walked once, and a link to a folder that holds a root
/// (`/`, the home folder) is not followed: walking it would walk everything
/// around the root (a link to `/` indexed the whole machine).
public struct PhotoScanner: Sendable {
    public static let extensions: Set<String> = ["jpg", "jpeg", "png", "webp", "heic", "heif"]

    /// Glob patterns (fnmatch): one without "/" is matched against each file
    /// and folder name, one with "/" against the whole path.
    public var excludes: [String]

    public init(excludes: [String] = []) {
        self.excludes = excludes
    }

    public static func isPhotoName(_ name: String) -> Bool {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return false }
        return extensions.contains(name[name.index(after: dot)...].lowercased())
    }

    /// Patterns and names are matched as the bytes they stand for.
    func isExcluded(path: String, name: String) -> Bool {
        excludes.contains { pattern in
            FilePaths.withFileSystemRepresentation(pattern) { glob in
                FilePaths.withFileSystemRepresentation(pattern.contains("/") ? path : name) { fnmatch(glob, $0, 0) == 0 }
            }
        }
    }

    /// Scans every root (absolute paths). A root that does not exist is
    /// listed in `missingRoots` (the indexer decides: an unmounted drive must
    /// never look like deleted photos).
    ///
    /// Folders reached through links are walked after the roots' own trees:
    /// a folder found both ways is indexed under its own path, not under the
    /// link's (`alias -> real`: the link sorted first, and `--in real`
    /// found nothing).
    public func scan(roots: [String]) -> ScanResult {
        var result = ScanResult()
        var visited = Set<FileIdentity>()
        var linked: [(path: String, status: stat)] = []
        let ancestors = Self.ancestors(of: roots)
        for root in roots {
            guard let status = FilePaths.status(root) else {
                result.missingRoots.append(root)
                continue
            }
            if (status.st_mode & S_IFMT) == S_IFDIR {
                walk(root, status: status, ancestors: ancestors, visited: &visited, linked: &linked, into: &result)
            } else if (status.st_mode & S_IFMT) == S_IFREG {
                result.files.append(ScannedFile(path: root, size: Int64(status.st_size), modifiedAt: Self.nanoseconds(status)))
            }
        }
        var next = 0
        while next < linked.count {
            let (path, status) = linked[next]
            next += 1
            walk(path, status: status, ancestors: ancestors, visited: &visited, linked: &linked, into: &result)
        }
        // Overlapping roots find the same files twice.
        var seen = Set<String>()
        result.files = result.files.filter { seen.insert($0.path).inserted }.sorted { $0.path < $1.path }
        return result
    }

    /// The folders that hold a root (its parent, …, "/"), which a link
    /// must not lead back to. (A root itself is walked, even when another
    /// root holds it.)
    private static func ancestors(of roots: [String]) -> Set<FileIdentity> {
        var ancestors = Set<FileIdentity>()
        for root in roots where root != "/" {
            var folder = root
            repeat {
                folder = FilePaths.deletingLastComponent(folder)
                if let status = FilePaths.status(folder) { ancestors.insert(FileIdentity(status)) }
            } while folder != "/" && !folder.isEmpty
        }
        return ancestors
    }

    /// A directory entry's name: its bytes as they are (see FilePaths; not
    /// UTF-8 is no reason to skip a photo), read up to their NUL and no
    /// further. An entry is only as long as its name (`d_reclen`), so
    /// copying the whole 256-byte `d_name` read past the last entry of the
    /// buffer readdir filled, and crashed when that buffer ended a page.
    static func name(of entry: UnsafeMutablePointer<dirent>) -> String {
        let start = UnsafeRawPointer(entry).advanced(by: MemoryLayout<dirent>.offset(of: \dirent.d_name)!)
            .assumingMemoryBound(to: UInt8.self)
        return FilePaths.string(fromFileSystem: UnsafeBufferPointer(start: start, count: strlen(start)))
    }

    static func nanoseconds(_ status: stat) -> Int64 {
        Int64(status.st_mtim.tv_sec) * 1_000_000_000 + Int64(status.st_mtim.tv_nsec)
    }

    /// Walks `folder`'s tree, leaving the folders links lead to in `linked`.
    private func walk(_ folder: String, status: stat, ancestors: Set<FileIdentity>, visited: inout Set<FileIdentity>,
                      linked: inout [(path: String, status: stat)], into result: inout ScanResult) {
        guard visited.insert(FileIdentity(status)).inserted else { return }
        guard let directory = FilePaths.withFileSystemRepresentation(folder, { opendir($0) }) else {
            result.unreadableFolders.append((folder, String(cString: strerror(errno)).lowercased()))
            return
        }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = Self.name(of: entry)
            if name.hasPrefix(".") { continue }
            names.append(name)
        }
        closedir(directory)
        for name in names.sorted() {
            let path = folder == "/" ? "/" + name : folder + "/" + name
            if isExcluded(path: path, name: name) { continue }
            guard let child = FilePaths.status(path) else {
                // A broken link, a link loop or a file gone since readdir is
                // nothing; a path longer than the system takes (PATH_MAX) is
                // said, and what the index holds there kept; so is a folder
                // that can be listed but not searched, once.
                let error = errno
                if error == EACCES {
                    result.unreadableFolders.append((folder, String(cString: strerror(error)).lowercased()))
                    break
                }
                if ![ENOENT, ELOOP, ENOTDIR].contains(error) {
                    result.unreadableFolders.append((path, String(cString: strerror(error)).lowercased()))
                }
                continue
            }
            switch child.st_mode & S_IFMT {
            case S_IFDIR:
                if let own = FilePaths.linkStatus(path), (own.st_mode & S_IFMT) == S_IFLNK {
                    // A link to a folder that holds a root would walk everything around it.
                    if !ancestors.contains(FileIdentity(child)) { linked.append((path, child)) }
                    continue
                }
                walk(path, status: child, ancestors: ancestors, visited: &visited, linked: &linked, into: &result)
            case S_IFREG where Self.isPhotoName(name):
                result.files.append(ScannedFile(path: path, size: Int64(child.st_size), modifiedAt: Self.nanoseconds(child)))
            case S_IFREG:
                result.otherFiles += 1
            default:
                break
            }
        }
    }
}
