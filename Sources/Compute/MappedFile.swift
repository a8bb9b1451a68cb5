import FileAccess
#if canImport(Glibc)
import Glibc
#endif

/// A whole file mapped read-only, for data read in place: its pages come
/// from the page cache and are shared by every process that maps the file.
///
/// Unchecked Sendable: the mapping is read-only, private to this object and
/// unmapped only in `deinit`; every stored property is a constant. (A Mutex
/// would guard nothing: no thread ever writes these bytes.)
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let bytes: UnsafeRawBufferPointer
    /// fstat(2) of the file that was mapped.
    public let status: stat

    /// Maps the regular file at `path`. With `populate`, every page is read
    /// in now, in one go (cheaper than faulting them in one by one when all
    /// of them will be read).
    public convenience init(path: String, populate: Bool = false) throws(ComputeError) {
        let file: RegularFile
        do {
            file = try RegularFile(path: path)
        } catch {
            throw .cannotRead(path: path, reason: error.reason)
        }
        try self.init(file, path: path, populate: populate)
    }

    /// Maps `file`, already opened (the caller reports its own errors for
    /// opening it); `path` names it in errors.
    public init(_ file: RegularFile, path: String, populate: Bool = false) throws(ComputeError) {
        self.path = path
        let size = file.size
        status = file.status
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let mapping = mmap(nil, size, PROT_READ, MAP_PRIVATE, file.descriptor, 0), mapping != MAP_FAILED else {
            throw .cannotRead(path: path, reason: String(cString: strerror(errno)).lowercased())
        }
        PageMapping.preferHugePages(mapping, size)
        if populate { PageMapping.populate(mapping, from: 0, to: size) }
        bytes = UnsafeRawBufferPointer(start: mapping, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }
}

/// How large mapped files are laid out in memory. A page cache that holds a
/// file in 2 MiB folios (ext4 on recent kernels, XFS, tmpfs with huge pages)
/// maps each with one page-table entry where 4 KiB pages take 512: mapping
/// and unmapping the 50 MB text tower and the 77 MB vector file of 100 000
/// photos cost ~6 ms of every search that way (AMD EPYC Zen 4, Linux 6.18),
/// ~0.5 ms in 2 MiB mappings.
public enum PageMapping {
    /// Marks `size` bytes at `base` (a mapping of a file) as wanting huge
    /// pages: pages read from disk from now on are read in 2 MiB folios (and
    /// written in them, through a writable mapping), and the kernel maps
    /// whole folios at once. A hint: kernels and file systems without large
    /// folios ignore it.
    public static func preferHugePages(_ base: UnsafeMutableRawPointer, _ size: Int) {
        _ = madvise(base, size, MADV_HUGEPAGE)
    }

    /// Maps in the pages of bytes `start..<end` of the mapping at `base` in
    /// one call (MADV_POPULATE_READ, Linux 5.14 on; on older kernels they
    /// fault in as they are read).
    public static func populate(_ base: UnsafeMutableRawPointer, from start: Int, to end: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let first = start / page * page
        guard end > first else { return }
        _ = madvise(base + first, end - first, 22)   // MADV_POPULATE_READ
    }

    /// Unmaps the pages of bytes `start..<end` (whole pages within them) of
    /// a read-only mapping of a file from this process: they no longer count
    /// in its memory, and are read again from the page cache if used. What
    /// checks a file larger than the memory a search may hold does this
    /// behind itself.
    public static func release(_ base: UnsafeMutableRawPointer, from start: Int, to end: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let first = (start + page - 1) / page * page, last = end / page * page
        guard last > first else { return }
        _ = madvise(base + first, last - first, MADV_DONTNEED)
    }
}
