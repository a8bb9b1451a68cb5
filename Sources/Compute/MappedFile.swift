import FileAccess
#if canImport(Glibc)
import Glibc
#endif

/// A whole file mapped read-only, for data read in place: its pages come
/// from the page cache and are shared by every process that maps the file.
///
/// Unchecked Sendable: the mapping is read-only, private to this object and
/// unmapped only in `deinit`; every stored property is a constant.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let bytes: UnsafeRawBufferPointer
    /// fstat(2) of the file that was mapped.
    public let status: stat

    /// Maps the regular file at `path`. With `populate`, every page is read
    /// in now, in one go (cheaper than faulting them in one by one when all
    /// of them will be read).
    public init(path: String, populate: Bool = false) throws(ComputeError) {
        self.path = path
        let file: RegularFile
        do {
            file = try RegularFile(path: path)
        } catch {
            throw .cannotRead(path: path, reason: error.reason)
        }
        let size = file.size
        status = file.status
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let flags = MAP_PRIVATE | (populate ? MAP_POPULATE : 0)
        guard let mapping = mmap(nil, size, PROT_READ, flags, file.descriptor, 0), mapping != MAP_FAILED else {
            throw .cannotRead(path: path, reason: String(cString: strerror(errno)).lowercased())
        }
        bytes = UnsafeRawBufferPointer(start: mapping, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }
}
