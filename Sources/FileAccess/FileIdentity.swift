#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Which file a stat(2) describes (device and inode): two paths, or a path
/// and an open descriptor, lead to the same file when these are equal.
public struct FileIdentity: Hashable, Sendable {
    public let device: UInt64
    public let inode: UInt64

    public init(_ status: stat) {
        device = UInt64(status.st_dev)
        inode = UInt64(status.st_ino)
    }

    /// The file `path` leads to now (links followed); nil when there is none.
    public init?(path: String) {
        guard let status = FilePaths.status(path) else { return nil }
        self.init(status)
    }
}
