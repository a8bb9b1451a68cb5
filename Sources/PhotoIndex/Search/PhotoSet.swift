/// A set of photo ids as a bitmap over 0 ... the largest id: what a filter
/// lets through, tested for every row a search scans (a `Set<Int64>` cost
/// a hash per row, and its building a hash per allowed photo). Photo ids
/// are SQLite row ids from 1 up, so the map is as dense as the index.
struct PhotoSet: Sendable {
    private var words: [UInt64] = []
    private(set) var count = 0

    init() {}

    init<S: Sequence<Int64>>(_ ids: S) {
        for id in ids { insert(id) }
    }

    /// Ids below 0 or above 2⁴⁰ (far past any index) are never members.
    static let largest: Int64 = 1 << 40

    mutating func insert(_ id: Int64) {
        guard id >= 0, id < Self.largest else { return }
        let word = Int(id >> 6)
        if word >= words.count { words += [UInt64](repeating: 0, count: max(word + 1 - words.count, words.count / 2)) }
        let bit = UInt64(1) << UInt64(id & 63)
        if words[word] & bit == 0 {
            words[word] |= bit
            count += 1
        }
    }

    func contains(_ id: Int64) -> Bool {
        guard id >= 0 else { return false }
        let word = Int(truncatingIfNeeded: id >> 6)
        return word < words.count && words[word] & (UInt64(1) << UInt64(id & 63)) != 0
    }
}
