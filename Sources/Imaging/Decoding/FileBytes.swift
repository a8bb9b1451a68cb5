#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Reads a whole file with read(2). Photos are read, not memory-mapped: a file
/// truncated by another program while mapped would kill the process with SIGBUS.
public enum FileBytes {
    /// The file's whole content; refuses directories and files over `limit` bytes.
    public static func read(path: String, limit: Int = 1 << 31) throws(ImagingError) -> [UInt8] {
        let descriptor = FilePaths.withFileSystemRepresentation(path) { open($0, O_RDONLY | O_CLOEXEC) }
        guard descriptor >= 0 else {
            throw .cannotRead(path: path, reason: systemErrorText(errno))
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw .cannotRead(path: path, reason: systemErrorText(errno))
        }
        if (status.st_mode & S_IFMT) == S_IFDIR {
            throw .cannotRead(path: path, reason: "it is a directory")
        }
        let expected = Int(status.st_size)
        guard expected <= limit else {
            throw .cannotRead(path: path, reason: "file is larger than \(limit >> 20) MiB")
        }
        var bytes = [UInt8](repeating: 0, count: max(expected, 0))
        var filled = 0
        while true {
            if filled == bytes.count {
                // The file may have grown since fstat; read on in chunks.
                guard bytes.count < limit else { break }
                bytes.append(contentsOf: repeatElement(0, count: 1 << 16))
            }
            let count = bytes.withUnsafeMutableBytes { buffer in
                Glibc.read(descriptor, buffer.baseAddress! + filled, buffer.count - filled)
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw .cannotRead(path: path, reason: systemErrorText(errno))
            }
            if count == 0 { break }
            filled += count
        }
        bytes.removeSubrange(filled...)
        return bytes
    }
}

func systemErrorText(_ code: Int32) -> String {
    String(cString: strerror(code)).lowercased()
}
