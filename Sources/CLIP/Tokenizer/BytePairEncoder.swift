import Synchronization

/// Byte-pair encoding of one pre-tokenized word (open_clip/tokenizer.py
/// SimpleTokenizer.bpe), on token ids: the word's bytes, the last marked as
/// ending the word ("</w>"), are merged pairwise, always taking the adjacent
/// pair with the lowest merge rank, every occurrence left to right, until no
/// ranked pair is left.
final class BytePairEncoder: Sendable {
    private let vocabulary: Vocabulary
    private let cache = Mutex<[String: [Int32]]>([:])

    init(vocabulary: Vocabulary) {
        self.vocabulary = vocabulary
    }

    /// The token ids of `word` (any text; it is read as UTF-8 bytes).
    func encode(_ word: String) -> [Int32] {
        let bytes = Array(word.utf8)
        guard !bytes.isEmpty else { return [] }
        if let cached = cache.withLock({ $0[word] }) { return cached }

        var parts = bytes.map { vocabulary.byteIDs[Int($0)] }
        parts[parts.count - 1] = vocabulary.byteEndIDs[Int(bytes[bytes.count - 1])]
        while parts.count > 1 {
            var bestRank = UInt64.max, best: (first: Int32, second: Int32, merged: Int32)?
            for index in 0..<(parts.count - 1) {
                if let rule = vocabulary.merges.rule(Vocabulary.key(parts[index], parts[index + 1])), rule >> 32 < bestRank {
                    bestRank = rule >> 32
                    best = (parts[index], parts[index + 1], Int32(truncatingIfNeeded: rule & 0xFFFF_FFFF))
                }
            }
            guard let best else { break }
            var merged: [Int32] = []
            merged.reserveCapacity(parts.count)
            var index = 0
            while index < parts.count {
                if index < parts.count - 1, parts[index] == best.first, parts[index + 1] == best.second {
                    merged.append(best.merged)
                    index += 2
                } else {
                    merged.append(parts[index])
                    index += 1
                }
            }
            parts = merged
        }
        cache.withLock { cache in
            if cache.count > 50_000 { cache.removeAll(keepingCapacity: true) }
            cache[word] = parts
        }
        return parts
    }
}
