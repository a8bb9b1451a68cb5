import Testing
@testable import PhotoIndex

@Suite("TopK")
struct TopKTests {
    /// A small deterministic generator (xorshift), so failures reproduce.
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
    }

    @Test("keeps exactly the best scores of any stream, and split streams merge to the same scores",
          arguments: [(0, 1000), (1, 1000), (10, 5), (64, 100_000), (2000, 50_000), (400, 400), (7, 3)])
    func bestOfStream(capacity: Int, count: Int) {
        var generator = Generator(state: 0x9E37_79B9_7F4A_7C15 &+ UInt64(capacity * 31 + count))
        // Few distinct values: many ties, at the bar too.
        let scores = (0..<count).map { _ in Float(generator.next() % 97) / 8 - 6 }
        var heap = TopK(capacity: capacity)
        for (item, score) in scores.enumerated() { heap.insert(score, item) }
        // Reference: the best `capacity`, the earlier item first among equals.
        let expected = scores.enumerated().sorted { $0.element > $1.element || ($0.element == $1.element && $0.offset < $1.offset) }
            .prefix(capacity).map { (score: $0.element, item: $0.offset) }
        let kept = heap.sorted()
        #expect(kept.map(\.score) == expected.map(\.score))
        // Items above the bar are exactly the reference's; those tied at it
        // are some of the items with that score.
        let bar = expected.last?.score ?? 0
        #expect(kept.filter { $0.score > bar }.map(\.item) == expected.filter { $0.score > bar }.map(\.item))
        let tied = Set(scores.indices.filter { scores[$0] == bar })
        #expect(kept.filter { $0.score == bar }.allSatisfy { tied.contains($0.item) })
        #expect(Set(kept.map(\.item)).count == kept.count)
        // The bar never passes the true `capacity`-th best: no score that
        // belongs was ever turned away.
        if let last = expected.last { #expect(heap.threshold <= last.score) }

        // Two halves kept apart, then merged: the same scores.
        var first = TopK(capacity: capacity), second = TopK(capacity: capacity)
        for (item, score) in scores.enumerated() {
            if item < count / 2 { first.insert(score, item) } else { second.insert(score, item) }
        }
        first.merge(second)
        #expect(first.sorted().map(\.score) == expected.map(\.score))
    }
}
