import Dispatch
import Foundation
import Synchronization
import Testing
import TestSupport
@testable import Imaging

@Suite("Decoding memory is bounded")
struct DecodingMemoryTests {
    @Test("a 250-megapixel 16-bit PNG is read reduced, row by row, and its budget given back")
    func hugePNG() throws {
        let folder = try TemporaryDirectory()
        let path = folder.file("huge.png")
        try LargePNG.write(path, width: 15_800, height: 15_800, bitDepth: 16, value: 200)
        let budget = DecodingBudget(bytes: 1 << 30)
        do {
            let photo = try ImageDecoder(budget: budget).decode(path: path, minimumShortSide: 224)
            // 250 MP is over the 64 MP reducing threshold; halving gets under it.
            #expect(photo.bitmap.width == 7_900 && photo.bitmap.height == 7_900 && photo.bitmap.layout == .rgb)
            #expect(photo.storedWidth == 15_800 && photo.storedHeight == 15_800)
            #expect(budget.used == 7_900 * 7_900 * 3)
            // 16-bit samples keep their high byte, as Pillow does.
            #expect(stride(from: 0, to: photo.bitmap.pixels.count, by: 9973).allSatisfy { photo.bitmap.pixels[$0] == 200 })
        }
        #expect(budget.used == 0)
    }

    @Test("the reduction is an exact box average, ragged edge blocks included")
    func boxAverage() throws {
        let path = FixtureFiles.path("photos/chelsea.png")         // 451 × 300: 451 = 4 · 112 + 3
        let full = try ImageDecoder().decode(path: path).bitmap
        let reduced = try ImageDecoder(reducingPixels: 1000).decode(path: path, minimumShortSide: 64).bitmap
        #expect(reduced.width == 113 && reduced.height == 75)      // factor 4: 75 ≥ 64, 8 would give 37
        var mismatches = 0
        for y in 0..<reduced.height {
            for x in 0..<reduced.width {
                for channel in 0..<3 {
                    var sum = 0, count = 0
                    for sy in (y * 4)..<min(y * 4 + 4, full.height) {
                        for sx in (x * 4)..<min(x * 4 + 4, full.width) {
                            sum += Int(full.pixels[(sy * full.width + sx) * 3 + channel])
                            count += 1
                        }
                    }
                    if Int(reduced.pixels[(y * reduced.width + x) * 3 + channel]) != (sum + count / 2) / count { mismatches += 1 }
                }
            }
        }
        #expect(mismatches == 0)
        // Below the threshold nothing is reduced: the exact Pillow path.
        #expect(try ImageDecoder().decode(path: path, minimumShortSide: 64).bitmap == full)
    }

    @Test("an interlaced PNG is reduced pass by pass, to the same pixels", arguments: [(64, 4), (32, 8), (150, 2)])
    func interlacedReduction(minimumShortSide: Int, factor: Int) throws {
        let folder = try TemporaryDirectory()
        let path = FixtureFiles.path("photos/chelsea.png"), interlaced = folder.file("interlaced.png")
        let full = try ImageDecoder().decode(path: path).bitmap
        try LargePNG.write(interlaced, width: full.width, height: full.height, rgb: full.pixels, interlaced: true)
        try #require(Array(try Data(contentsOf: URL(fileURLWithPath: interlaced)))[28] == 1, "not interlaced")
        let decoder = ImageDecoder(reducingPixels: 1000)
        let reduced = try decoder.decode(path: interlaced, minimumShortSide: minimumShortSide).bitmap
        #expect(reduced.width == (451 + factor - 1) / factor && reduced.height == (300 + factor - 1) / factor)
        #expect(reduced == (try decoder.decode(path: path, minimumShortSide: minimumShortSide).bitmap))
        // Below the threshold, read whole: the same as the original.
        #expect(try ImageDecoder().decode(path: interlaced, minimumShortSide: minimumShortSide).bitmap == full)
    }

    @Test("a side longer than 65 535 pixels is refused, whatever the pixel count")
    func longSide() throws {
        let folder = try TemporaryDirectory()
        let path = folder.file("tall.png")
        try LargePNG.write(path, width: 1, height: 70_000, value: 7)
        #expect(throws: ImagingError.tooLarge(path: path, width: 1, height: 70_000, limit: ImageDecoder.defaultMaximumPixels)) {
            try ImageDecoder().decode(path: path, minimumShortSide: 224)
        }
        #expect(ImagingError.tooLarge(path: path, width: 1, height: 70_000, limit: 250_000_000).reason
                == "1x70000 pixels, a side longer than 65535 pixels")
    }

    @Test("the budget is never exceeded by concurrent decodes, and every reservation is served")
    func budgetLimit() {
        let budget = DecodingBudget(bytes: 100)
        let over = Mutex(0), served = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 8) { index in
            for round in 0..<200 {
                let reservation = budget.reserve(10 + (index * 7 + round) % 40)
                if budget.used > 100 { over.withLock { $0 += 1 } }
                served.withLock { $0 += 1 }
                withExtendedLifetime(reservation) {}
            }
        }
        #expect(over.withLock { $0 } == 0)
        #expect(served.withLock { $0 } == 1600)
        #expect(budget.used == 0)
        // One reservation larger than the whole budget runs alone.
        let large = budget.reserve(500)
        #expect(budget.used == 500)
        withExtendedLifetime(large) {}
    }
}

/// Photos whose headers claim more than their data can hold, or whose
/// decoders would allocate far more than their output (fixtures/hostile,
/// made by scripts/make-hostile-fixtures.py).
@Suite("Headers that lie about size")
struct LyingHeaderTests {
    func refusal(_ name: String) -> String {
        do {
            _ = try ImageDecoder().decode(path: FixtureFiles.path("hostile/\(name)"), minimumShortSide: 224)
            Issue.record("\(name) was decoded")
            return ""
        } catch {
            return error.reason
        }
    }

    @Test("data that cannot fill the claimed size is refused before anything is allocated", arguments: [
        // 421 bytes; a Huffman-coded JPEG spends at least a bit per 8 × 8 block:
        // 15 000² needs 440 KB. Decoded, it took ~700 MB of coefficient buffers.
        ("lying-progressive.jpg", "not a valid JPEG file: its 421 bytes cannot hold the 15000 × 15000 pixels its header claims"),
        // Deflate expands at most 1032-fold: 675 MB of rows need 654 KB.
        ("lying.png", "not a valid PNG file: its 254 bytes cannot hold the 15000 × 15000 pixels its header claims"),
    ])
    func implausible(name: String, reason: String) {
        #expect(refusal(name) == reason)
    }

    @Test("a JPEG with more scans than any encoder writes is refused")
    func scanLimit() {
        #expect(refusal("many-scans.jpg") == "not a valid JPEG file: it has more than 100 scans")
    }

    @Test("a JPEG scan refining what no earlier scan left unfinished, or sending again what one sent, is refused")
    func bogusProgression() throws {
        // Repeated, such scans walked every coefficient of every block for
        // a few bytes each: 100 of them over 15 800² took 16 s.
        #expect(refusal("refining-twice.jpg") == "not a valid JPEG file: inconsistent progression sequence for component 0 coefficient 1")
        // Nor sending a band first again once it was refined, which libjpeg
        // allows: rounds of both could fill the 100 scans (8 000²: 3.8 s).
        #expect(refusal("sending-twice.jpg") == "not a valid JPEG file: a scan sends coefficient 1 of component 0 again")
        // Its first three scans are a valid progression, decoded.
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: FixtureFiles.path("hostile/refining-twice.jpg"))))
        let lastTables = bytes.indices.last { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC4 }!
        bytes.replaceSubrange(lastTables..., with: [0xFF, 0xD9])
        #expect(try ImageDecoder().decode(bytes: bytes, path: "three-scans.jpg").bitmap.width == 8)
    }

    @Test("HEIF items that lie about their size, or nest, are refused before libheif decodes them (scripts/make-hostile-heif.py)", arguments: [
        // 624 bytes: libheif allocated the grid's own 32 767² canvas (6.3 GB).
        ("grid-lying-size.heic", "not a valid HEIF file: its grid is 32767x32767 pixels but says 64x64 (ispe)"),
        // 1 000 iden images deep: libheif recursed into each and overflowed the stack (SIGSEGV).
        ("iden-chain.heic", "not a valid HEIF file: its derived images are nested"),
        // 100 tiles said to be 64², each an 8 192² stream: 58 s for a 640² photo.
        ("tiles-lying-size.heic", "not a valid HEIF file: its HEVC pictures hold more pixels than its images declare"),
        // Said to be 1 × 1; 8 192² in the stream, decoded outside the budget.
        ("ispe-lying.heic", "not a valid HEIF file: its HEVC pictures hold more pixels than its images declare"),
        // The same with a depth map said to be 8 192²: never decoded, so it
        // does not raise what the image may hold.
        ("depth-inflates.heic", "not a valid HEIF file: its HEVC pictures hold more pixels than its images declare"),
        // A tile said (truly) to be 8 192² in a 640² grid; said 2³²−1, the sum overflowed.
        ("tile-larger-than-grid.heic", "not a valid HEIF file: its 8192x8192 tiles are larger than its 640x640 grid"),
        // 500 × 65 535 extents of no bytes in 4 KB: 543 MB of extents when kept.
        ("empty-extents.heic", "not a valid HEIF file: its iloc box lists extents of no size"),
        // Alpha of alpha of alpha…: libheif recurses through them.
        ("alpha-chain.heic", "not a valid HEIF file: its alpha image has an alpha image"),
    ])
    func lyingHEIF(name: String, reason: String) {
        let budget = DecodingBudget(bytes: 256 << 20)
        do {
            _ = try ImageDecoder(budget: budget).decode(path: FixtureFiles.path("hostile/\(name)"))
            Issue.record("\(name) was decoded")
        } catch {
            #expect(error.reason == reason)
        }
        // Nothing of the 8 192² streams was decoded.
        #expect(budget.peak < 8 << 20, "\(budget.peak)")
    }

    @Test("honest derived HEIF images decode: a grid of tiles, and an iden image over a coded one")
    func honestDerivedHEIF() throws {
        let decoder = ImageDecoder()
        let tile = try decoder.decode(path: FixtureFiles.path("photos/iden.heic")).bitmap
        #expect(tile.width == 64 && tile.height == 64)
        let grid = try decoder.decode(path: FixtureFiles.path("photos/grid-2x2.heic")).bitmap
        #expect(grid.width == 128 && grid.height == 128)
        // The same tile four times over.
        for y in 0..<128 {
            let row = Array(grid.pixels[(y * 128 * 3)..<((y + 1) * 128 * 3)])
            let source = Array(tile.pixels[(y % 64 * 64 * 3)..<((y % 64 + 1) * 64 * 3)])
            #expect(row == source + source, "row \(y)")
        }
    }

    @Test("a grid whose one tile is padded past its edges (heif-enc codes a 1023x1025 photo as a 1024x1026 tile) decodes, cropped to the grid")
    func paddedTile() throws {
        // A gradient (red across, green down, blue along the diagonal),
        // heif-enc -q 20: within a few levels of it everywhere.
        let bitmap = try ImageDecoder().decode(path: FixtureFiles.path("photos/gradient-1023x1025.heic")).bitmap
        #expect(bitmap.width == 1023 && bitmap.height == 1025 && bitmap.layout == .rgb)
        var error = 0
        for y in 0..<1025 {
            for x in 0..<1023 {
                let pixel = (y * 1023 + x) * 3
                let expected = [x * 255 / 1023, y * 255 / 1025, (x + y) * 255 / 2048]
                for channel in 0..<3 { error += abs(Int(bitmap.pixels[pixel + channel]) - expected[channel]) }
            }
        }
        let mean = Double(error) / Double(1023 * 1025 * 3)
        #expect(mean < 3, "mean error \(mean)")
    }

    @Test("bytes after a HEIC's last box (a trailer some phones append) are ignored, as libheif ignores them")
    func trailer() throws {
        let bytes = try FixtureFiles.bytes("photos/coffee.heic")
        let plain = try ImageDecoder().decode(bytes: bytes, path: "coffee.heic").bitmap
        let trailed = try ImageDecoder().decode(bytes: bytes + Array("SEFT trailer that is not a box".utf8) + [0, 0, 0, 0xFF], path: "coffee.heic")
        #expect(trailed.bitmap == plain)
    }

    @Test("AVIF (AV1 in HEIF) is refused by name: photosearch decodes HEVC")
    func avif() throws {
        var bytes = try FixtureFiles.bytes("photos/iden.heic")
        // Its coded image's type, hvc1, becomes av01.
        let infe = bytes.indices.filter { Array(bytes[$0..<min($0 + 4, bytes.count)]) == Array("hvc1".utf8) }
        #expect(infe.count == 1)
        bytes.replaceSubrange(infe[0]..<(infe[0] + 4), with: Array("av01".utf8))
        #expect(throws: ImagingError.corrupt(path: "x.heic", format: "HEIF", reason: "images of type 'av01' are not supported (only HEVC)")) {
            try ImageDecoder().decode(bytes: bytes, path: "x.heic")
        }
    }

    @Test("a progressive JPEG reserves its coefficient buffers, whatever the output scale")
    func coefficientsReserved() throws {
        let budget = DecodingBudget(bytes: 64 << 20)
        let path = FixtureFiles.path("hostile/large-progressive.jpg")
        do {
            let photo = try ImageDecoder(budget: budget).decode(path: path, minimumShortSide: 224)
            // 1/8 scale: 1000 × 1000 RGB is all that is kept.
            #expect(photo.bitmap.width == 1000 && photo.bitmap.height == 1000)
            #expect(budget.used == 1000 * 1000 * 3)
        }
        // 8 000² in 4:2:0: 1 000 000 luma and 2 × 250 000 chroma blocks of
        // 128 bytes each, held while it decoded (and the file's bytes).
        #expect(budget.peak >= 192_000_000 + 187_628)
        #expect(budget.used == 0)
    }
}

/// A decoder that fails half-way must fail every time, never hand back
/// memory it did not write.
@Suite("Decoders that fail half-way")
struct HalfDecodedTests {
    @Test("a damaged HEIC gives the same answer on every decode")
    func damagedHEIC() {
        let path = FixtureFiles.path("hostile/damaged.heic")
        var answers = Set<String>()
        for round in 0..<12 {
            // Leave different leftovers in the heap before each decode.
            for size in [1 << 20, 3 << 19, 1 << 18] {
                let noise = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
                noise.initializeMemory(as: UInt8.self, repeating: UInt8(truncatingIfNeeded: round * 37 + size))
                noise.deallocate()
            }
            do {
                let photo = try ImageDecoder().decode(path: path)
                answers.insert("decoded: \(photo.bitmap.pixels.hashValue)")
            } catch {
                answers.insert("failed: \(error.reason)")
            }
        }
        // libheif's own decoder answered differently each time; libde265
        // reports the damage, and it is a failure.
        #expect(answers == ["failed: not a valid HEIF file: decoder plugin generated an error: Unspecified: end_of_sub_stream_one_bit not set to 1 when it should be"])
    }
}
