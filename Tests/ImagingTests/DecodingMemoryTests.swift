import Dispatch
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
