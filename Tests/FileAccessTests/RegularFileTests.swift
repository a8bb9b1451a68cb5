import Foundation
import Testing
import TestSupport
@testable import FileAccess

/// Every file photosearch reads is opened through `RegularFile`: without
/// blocking, and refused by what the open descriptor is, not the path.
@Suite("Opening only regular files")
struct RegularFileTests {
    func refusal(_ path: String) -> FileAccessError? {
        do {
            _ = try RegularFile(path: path)
            return nil
        } catch {
            return error
        }
    }

    @Test("a FIFO, even behind a link, is refused at once instead of waiting for a writer")
    func fifo() throws {
        let folder = try TemporaryDirectory()
        let fifo = folder.file("photo.jpg")
        #expect(mkfifo(fifo, 0o644) == 0)
        #expect(refusal(fifo) == .notRegularFile(path: fifo, kind: "a named pipe (FIFO)"))
        try FileManager.default.createSymbolicLink(atPath: folder.file("link.jpg"), withDestinationPath: fifo)
        #expect(refusal(folder.file("link.jpg"))?.reason == "it is a named pipe (FIFO), not a regular file")
    }

    @Test("devices, sockets and folders are refused, each by name")
    func otherKinds() throws {
        let folder = try TemporaryDirectory()
        #expect(refusal("/dev/zero")?.reason == "it is a character device, not a regular file")
        #expect(refusal(folder.path)?.reason == "it is a folder, not a regular file")
        let socketPath = folder.file("socket")
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in socketPath.utf8.enumerated() { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        // A socket cannot even be opened; either way it is not read.
        #expect(refusal(socketPath) != nil)
        #expect(refusal(folder.file("missing")) == .missing(path: folder.file("missing")))
    }

    @Test("a file is read whole only within its limit, checked before reading")
    func limits() throws {
        let folder = try TemporaryDirectory()
        let path = folder.file("big")
        // 3 GB, sparse: refused by its size alone, nothing read.
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        #expect(truncate(path, 3 << 30) == 0)
        let file = try RegularFile(path: path)
        #expect(throws: FileAccessError.tooLarge(path: path, size: 3 << 30, limit: 1 << 20)) { try file.readAll(limit: 1 << 20) }
        #expect(try file.prefix(4) == [0, 0, 0, 0])
        try Data("photosearch".utf8).write(to: URL(fileURLWithPath: folder.file("small")))
        #expect(try RegularFile.contents(of: folder.file("small"), limit: 64) == Array("photosearch".utf8))
        var chunks: [[UInt8]] = []
        try RegularFile(path: folder.file("small")).forEachChunk(4) { chunks.append(Array($0)) }
        #expect(chunks.map { String(decoding: $0, as: UTF8.self) } == ["phot", "osea", "rch"])
    }
}
