import Compute

/// The BPE merge rules as a flat open-addressing hash table of UInt64 pairs
/// (key, value), keys (first id << 32 | second id), values (rank << 32 |
/// merged id): built once from the merge file, and then usable in place from
/// a prepared file, with nothing to rebuild (a Swift Dictionary of 48 894
/// rules takes longer to fill than a whole search takes).
///
/// Slot i holds words 2i (key, `empty` when free) and 2i + 1 (value); a key
/// starts at slot (key × golden ratio) >> (64 − log₂ capacity) and probes
/// linearly. The capacity, a power of two, keeps the table at most half full.
struct MergeTable: Sendable {
    static let empty = UInt64.max

    private let slots: ConstantBuffer<UInt64>
    private let shift: UInt64
    let count: Int

    var capacity: Int { slots.count / 2 }

    init(_ rules: [UInt64: UInt64]) {
        var capacity = 16
        while capacity < 2 * rules.count { capacity *= 2 }
        var words = [UInt64](repeating: Self.empty, count: 2 * capacity)
        shift = UInt64(64 - capacity.trailingZeroBitCount)
        for (key, value) in rules {
            var slot = Self.start(key, shift: shift)
            while words[2 * slot] != Self.empty { slot = (slot + 1) & (capacity - 1) }
            words[2 * slot] = key
            words[2 * slot + 1] = value
        }
        slots = ConstantBuffer(words)
        count = rules.count
    }

    /// The table over words saved by `words` (mapped from a prepared file,
    /// kept alive by `owner`); nil unless it is a well-formed table whose
    /// values' low halves (ids) are below `vocabularySize`, and whose keys
    /// are pairs of such ids or, with `keyLimit`, below it (the checksum
    /// guards against damage; this against a file crafted to send a lookup
    /// out of bounds or round in circles).
    init?(words pointer: UnsafePointer<UInt64>, count wordCount: Int, owner: any AnyObject & Sendable, vocabularySize: Int,
          keyLimit: UInt64? = nil) {
        let capacity = wordCount / 2
        guard capacity >= 16, capacity.nonzeroBitCount == 1, wordCount == 2 * capacity else { return nil }
        var used = 0
        for slot in 0..<capacity where pointer[2 * slot] != Self.empty {
            let key = pointer[2 * slot], value = pointer[2 * slot + 1]
            let keyValid = keyLimit.map { key < $0 } ?? (key >> 32 < UInt64(vocabularySize) && key & 0xFFFF_FFFF < UInt64(vocabularySize))
            guard value & 0xFFFF_FFFF < UInt64(vocabularySize), keyValid else { return nil }
            used += 1
        }
        guard used <= capacity / 2 else { return nil }
        slots = ConstantBuffer(borrowing: pointer, count: wordCount, owner: owner)
        shift = UInt64(64 - capacity.trailingZeroBitCount)
        count = used
    }

    @inline(__always)
    private static func start(_ key: UInt64, shift: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// The rule for the pair `key`, if there is one.
    func rule(_ key: UInt64) -> UInt64? {
        slots.withUnsafeBufferPointer { words in
            let mask = words.count / 2 - 1
            var slot = Self.start(key, shift: shift)
            // At least half the slots are free, so a probe ends at one; and
            // after every slot at most, should a mapped file have been
            // rewritten under it since it was checked.
            for _ in 0...mask {
                let stored = words[2 * slot]
                if stored == key { return words[2 * slot + 1] }
                if stored == Self.empty { return nil }
                slot = (slot + 1) & mask
            }
            return nil
        }
    }

    /// Its words, as `init(words:…)` takes them back.
    func withWords<Result>(_ body: (UnsafeBufferPointer<UInt64>) throws -> Result) rethrows -> Result {
        try slots.withUnsafeBufferPointer(body)
    }
}
