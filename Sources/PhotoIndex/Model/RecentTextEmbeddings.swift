import CLIP

/// The text embeddings a process made last, by precision and token ids, so
/// that paging through a search, changing its filters, or asking it again
/// costs no encoding: a text query is 32–75 ms of a bidirectional tower's
/// work on two cores (MobileCLIP 2, SigLIP 2), and a gallery asks the same
/// text once per page. Texts that tokenize alike ("A dog", "a dog " for a
/// lower-casing tokenizer) share one entry. At most `capacity` entries, the
/// least recently used going first; 256 of 1 152 floats are about 1.2 MB.
struct RecentTextEmbeddings {
    struct Key: Hashable {
        let precision: Precision
        let tokens: [Int]
    }

    private struct Entry {
        var vector: [Float]
        var used: UInt64
    }

    let capacity: Int
    private var entries: [Key: Entry] = [:]
    private var clock: UInt64 = 0
    /// How many texts were encoded rather than remembered.
    private(set) var encoded = 0

    init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    var count: Int { entries.count }

    /// The vector remembered for `key`, which becomes the most recently used.
    mutating func vector(for key: Key) -> [Float]? {
        guard var entry = entries[key] else { return nil }
        clock += 1
        entry.used = clock
        entries[key] = entry
        return entry.vector
    }

    /// Remembers `vector` for `key`, a newly encoded text's: forgets the least
    /// recently used entry when full. A vector that is not finite (damaged
    /// weights) is counted but not kept, so that the query is refused again.
    mutating func remember(_ vector: [Float], for key: Key) {
        encoded += 1
        guard vector.allSatisfy(\.isFinite) else { return }
        if entries[key] == nil, entries.count >= capacity,
           let oldest = entries.min(by: { $0.value.used < $1.value.used })?.key {
            entries[oldest] = nil
        }
        clock += 1
        entries[key] = Entry(vector: vector, used: clock)
    }
}
