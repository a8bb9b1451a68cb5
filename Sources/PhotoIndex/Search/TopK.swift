/// The `capacity` largest scores seen (with their items). Scores above the
/// current bar are appended to a buffer of twice the capacity; when it fills,
/// a selection keeps the best `capacity` and raises the bar to the smallest of
/// them. Each score passes the bar once and costs an append, where a heap
/// paid a sift of log₂(capacity) levels: a search with `--top 50` keeps 2 000
/// coarse candidates per core, and its heap was a tenth of `serve`'s time.
///
/// A score equal to the bar does not enter; which of several items tied at
/// the bar stay is the selection's choice.
struct TopK {
    private struct Entry {
        var score: Float
        var item: Int
    }

    private var entries: [Entry] = []
    let capacity: Int
    /// The bar a new score must pass: -∞ until `capacity` scores were kept,
    /// then the smallest kept after the last selection.
    private(set) var threshold: Float = -.infinity

    /// How many are kept: fewer than `capacity` only when fewer were seen.
    var count: Int { min(entries.count, capacity) }

    init(capacity: Int) {
        self.capacity = capacity
        entries.reserveCapacity(2 * capacity)
    }

    @inline(__always)
    mutating func insert(_ score: Float, _ item: Int) {
        guard score > threshold, capacity > 0 else { return }
        entries.append(Entry(score: score, item: item))
        if entries.count == 2 * capacity { select() }
    }

    mutating func merge(_ other: TopK) {
        for entry in other.entries { insert(entry.score, entry.item) }
    }

    /// (score, item), best first: exactly the `capacity` best (fewer if
    /// fewer were seen).
    func sorted() -> [(score: Float, item: Int)] {
        var copy = self
        copy.select()
        return copy.entries.sorted { $0.score > $1.score || ($0.score == $1.score && $0.item < $1.item) }
            .map { (score: $0.score, item: $0.item) }
    }

    /// Keeps the best `capacity` entries (a quickselect: the kept ones in
    /// front, in no order) and sets the bar to the smallest of them.
    private mutating func select() {
        guard entries.count >= capacity else { return }
        entries.withUnsafeMutableBufferPointer { buffer in
            // Move the `capacity` largest into buffer[0..<capacity].
            var low = 0, high = buffer.count - 1
            let k = capacity - 1
            while low < high {
                // Median of three as the pivot, then Hoare's partition
                // (descending: larger scores to the left).
                let middle = low + (high - low) / 2
                if buffer[middle].score > buffer[low].score { buffer.swapAt(middle, low) }
                if buffer[high].score > buffer[low].score { buffer.swapAt(high, low) }
                if buffer[high].score > buffer[middle].score { buffer.swapAt(high, middle) }
                let pivot = buffer[middle].score
                var i = low, j = high
                while i <= j {
                    while buffer[i].score > pivot { i += 1 }
                    while buffer[j].score < pivot { j -= 1 }
                    if i <= j {
                        buffer.swapAt(i, j)
                        i += 1
                        j -= 1
                    }
                }
                if k <= j { high = j } else if k >= i { low = i } else { break }
            }
        }
        entries.removeLast(entries.count - capacity)
        threshold = entries.reduce(Float.infinity) { min($0, $1.score) }
    }
}
