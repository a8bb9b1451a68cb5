import Synchronization

/// Byte-pair encoding of one pre-tokenized word (open_clip/tokenizer.py
/// SimpleTokenizer.bpe): the word's byte characters, "</w>" appended to the
/// last, are merged pairwise, always taking the pair with the lowest merge
/// rank, until no ranked pair is left.
final class BytePairEncoder: Sendable {
    private let ranks: [String: Int]
    private let cache = Mutex<[String: [String]]>([:])

    /// `merges` in rank order, each a pair of symbols.
    init(merges: [(String, String)]) {
        var ranks: [String: Int] = [:]
        ranks.reserveCapacity(merges.count)
        for (rank, merge) in merges.enumerated() where ranks[Self.key(merge.0, merge.1)] == nil {
            ranks[Self.key(merge.0, merge.1)] = rank
        }
        self.ranks = ranks
    }

    private static func key(_ first: String, _ second: String) -> String { first + " " + second }

    /// The symbols of `word` (a string of byte characters) after merging.
    func encode(_ symbols: [String]) -> [String] {
        guard !symbols.isEmpty else { return [] }
        let word = symbols.joined()
        if let cached = cache.withLock({ $0[word] }) { return cached }

        var parts = symbols
        parts[parts.count - 1] += "</w>"
        while parts.count > 1 {
            var best: (rank: Int, index: Int)?
            for index in 0..<(parts.count - 1) {
                if let rank = ranks[Self.key(parts[index], parts[index + 1])], rank < (best?.rank ?? .max) {
                    best = (rank, index)
                }
            }
            guard let best else { break }
            let first = parts[best.index], second = parts[best.index + 1]
            // Merge every occurrence of the pair, left to right.
            var merged: [String] = []
            merged.reserveCapacity(parts.count)
            var index = 0
            while index < parts.count {
                if index < parts.count - 1, parts[index] == first, parts[index + 1] == second {
                    merged.append(first + second)
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
