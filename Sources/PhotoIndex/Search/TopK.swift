/// The `capacity` largest scores seen, kept in a binary min-heap: the root is
/// the smallest kept score, the bar a new score must pass.
struct TopK {
    private(set) var scores: [Float] = []
    private(set) var items: [Int] = []
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        scores.reserveCapacity(capacity)
        items.reserveCapacity(capacity)
    }

    /// The smallest score that would still be kept (-∞ until full).
    var threshold: Float { scores.count < capacity ? -.infinity : scores[0] }

    mutating func insert(_ score: Float, _ item: Int) {
        if scores.count < capacity {
            scores.append(score)
            items.append(item)
            siftUp(scores.count - 1)
        } else if score > scores[0] {
            scores[0] = score
            items[0] = item
            siftDown(0)
        }
    }

    mutating func merge(_ other: TopK) {
        for (score, item) in zip(other.scores, other.items) { insert(score, item) }
    }

    /// (score, item), best first.
    func sorted() -> [(score: Float, item: Int)] {
        zip(scores, items).map { (score: $0, item: $1) }.sorted { $0.score > $1.score || ($0.score == $1.score && $0.item < $1.item) }
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard scores[child] < scores[parent] else { return }
            scores.swapAt(child, parent)
            items.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < scores.count && scores[left] < scores[smallest] { smallest = left }
            if right < scores.count && scores[right] < scores[smallest] { smallest = right }
            guard smallest != parent else { return }
            scores.swapAt(parent, smallest)
            items.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
