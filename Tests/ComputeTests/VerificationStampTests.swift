import Foundation
import Testing
import TestSupport
@testable import Compute
@testable import FileAccess

/// A derived file is verified once per boot while it stays exactly the
/// file that was verified; any write voids the note, even one that puts the
/// modification time back.
@Suite("Verification notes")
struct VerificationStampTests {
    @Test("a note holds for the same file, and not after a write, a replacement or a restored mtime")
    func notes() throws {
        let folder = try TemporaryDirectory()
        let path = folder.file("derived.bin")
        try Data(repeating: 7, count: 4096).write(to: URL(fileURLWithPath: path))
        var status = try RegularFile(path: path).status
        #expect(!VerificationStamp.isCurrent(path: path, status: status))
        VerificationStamp.record(path: path, status: status)
        #expect(VerificationStamp.isCurrent(path: path, status: try RegularFile(path: path).status))

        // A byte changed in place, the modification time put back: the change time still moved.
        let descriptor = open(path, O_WRONLY)
        #expect(pwrite(descriptor, [UInt8(8)], 1, 100) == 1)
        var times = [status.st_atim, status.st_mtim]
        #expect(futimens(descriptor, &times) == 0)
        close(descriptor)
        status = try RegularFile(path: path).status
        #expect(!VerificationStamp.isCurrent(path: path, status: status))

        // Replaced by rename: another inode.
        VerificationStamp.record(path: path, status: status)
        try Data(repeating: 7, count: 4096).write(to: URL(fileURLWithPath: path), options: .atomic)
        #expect(!VerificationStamp.isCurrent(path: path, status: try RegularFile(path: path).status))
        VerificationStamp.remove(path: path)
        #expect(!FileManager.default.fileExists(atPath: path + ".verified"))
    }
}
