import Compute
import Foundation
import Testing
import TestSupport

@Suite("XXH64")
struct ContentHashTests {
    @Test("in pieces of any size, and from a file, the same as in one go")
    func streaming() throws {
        var generator = SplitMix64(seed: 3)
        let bytes = (0..<100_003).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        for length in [0, 1, 3, 4, 7, 8, 31, 32, 33, 63, 64, 65, 1000, 100_003] {
            let expected = bytes.withUnsafeBytes { ContentHash.xxh64(UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
            for piece in [1, 5, 31, 32, 33, 4096] {
                var stream = ContentHash.Stream()
                var offset = 0
                while offset < length {
                    let end = min(length, offset + piece)
                    bytes.withUnsafeBytes { stream.update(UnsafeRawBufferPointer(rebasing: $0[offset..<end])) }
                    offset = end
                }
                #expect(stream.finish() == expected, "length \(length), pieces of \(piece)")
            }
        }
        // Known values (the xxhash package's xxh64(...).intdigest()).
        #expect(ContentHash.xxh64(Array("abc".utf8)) == 0x44BC_2CF5_AD77_0999)
        let folder = try TemporaryDirectory()
        let path = try folder.write("bytes", bytes)
        #expect(try ContentHash.xxh64(contentsOf: path) == ContentHash.xxh64(bytes))
        #expect(throws: ComputeError.self) { try ContentHash.xxh64(contentsOf: folder.file("missing")) }
    }
}
