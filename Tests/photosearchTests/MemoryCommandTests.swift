import Foundation
import Testing
import TestSupport

@Suite("Indexing memory under hostile photos")
struct MemoryCommandTests {
    @Test("three 250-megapixel 16-bit PNGs on three threads are indexed within 1.2 GB")
    func hugePNGs() throws {
        let folder = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: folder.file("photos"), withIntermediateDirectories: true)
        for index in 0..<3 {
            // 1.5 MB files holding 1.5 GB of pixels each (6 bytes per pixel).
            try LargePNG.write(folder.file("photos/huge-\(index).png"), width: 15_800, height: 15_800, bitDepth: 16, value: UInt8(60 + 50 * index))
        }
        let outcome = try ChildResources.run(CommandRunner.executable.path, [
            "index", folder.file("photos"), "--db", folder.file("index.sqlite"), "--jobs", "3",
            "--model", CommandRunner.fixture("models/oc-vit-gelu-p16"),
        ])
        #expect(outcome.status == 0)
        // Before: 5.9 GB (each decoded whole, then copied). Now each is read
        // reduced (187 MB) under a shared budget.
        #expect(outcome.peakResidentBytes < 1_200_000_000, "\(outcome.peakResidentBytes / 1_000_000) MB")
        let status = try CommandRunner.run(["status", "--db", folder.file("index.sqlite")])
        #expect(status.standardOutput.contains("Photos:   3 indexed, 0 failed"), "\(status.standardOutput)")
    }
}
