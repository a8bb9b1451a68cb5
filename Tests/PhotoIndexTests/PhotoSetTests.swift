import Testing
import TestSupport
@testable import PhotoIndex

@Suite("PhotoSet: the ids a filter lets through")
struct PhotoSetTests {
    @Test("members are exactly the ids inserted, against a Set, over sparse and dense ids")
    func membership() {
        var generator = SplitMix64(seed: 5)
        var reference = Set<Int64>()
        var set = PhotoSet()
        for _ in 0..<20_000 {
            let id = Int64(generator.next() % 300_000)
            reference.insert(id)
            set.insert(id)
        }
        #expect(set.count == reference.count)
        for id in Int64(-5)..<310_000 { #expect(set.contains(id) == reference.contains(id)) }
    }

    @Test("ids out of range are never members, and never grow the map")
    func outOfRange() {
        var set = PhotoSet([1, 64, 65, 0])
        set.insert(-1)
        set.insert(Int64.max)
        set.insert(PhotoSet.largest)
        #expect(set.count == 4)
        #expect(!set.contains(-1) && !set.contains(Int64.max) && !set.contains(Int64.min) && !set.contains(PhotoSet.largest))
        #expect(set.contains(0) && set.contains(1) && set.contains(64) && set.contains(65) && !set.contains(2))
    }
}
