import Foundation

/// SigLIP 2's tokenizer (Gemma's 256 000 pieces) as the Hugging Face
/// tokenizers library runs a tokenizer.json of that kind:
///
/// 1. added tokens are cut out of the raw text (leftmost, then longest
///    match; those marked `normalized` are looked for after normalising),
///    each becoming its id;
/// 2. the rest is normalised (SigLIP 2: lower-cased one character at a time,
///    then every space replaced by "▁") and split by the pre-tokenizer;
/// 3. each piece is byte-pair encoded over its characters: a character the
///    vocabulary lacks becomes its UTF-8 bytes' `<0xXX>` pieces (byte
///    fallback), and adjacent symbols merge lowest rank first, leftmost
///    first among equals (the library's `Word::merge_all`);
/// 4. the ids are cut to leave room for the frame (`<eos>` for SigLIP 2),
///    which is then added.
///
/// The tables (characters and merges) are flat hash tables that a prepared
/// file holds as they are, so a search maps them instead of parsing a
/// 30 MB tokenizer.json.
public struct GemmaTokenizer: TextTokenizer {
    enum Normalization: Codable, Equatable, Sendable {
        case lowercase, nfc, nfkc, nfd, nfkd
        case prepend(String)
        case replace(String, String)
    }

    /// The `Split` pre-tokenizer with a literal pattern.
    struct Split: Codable, Equatable, Sendable {
        enum Behavior: String, Codable, Sendable {
            case removed = "Removed", isolated = "Isolated"
            case mergedWithPrevious = "MergedWithPrevious", mergedWithNext = "MergedWithNext"
        }

        var pattern: String
        var behavior: Behavior
    }

    struct AddedToken: Codable, Equatable, Sendable {
        var content: String
        var id: Int
        var normalized: Bool
        var leftStrip: Bool
        var rightStrip: Bool
    }

    /// Everything but the two large tables.
    struct Definition: Codable, Equatable, Sendable {
        var normalizations: [Normalization]
        var split: Split?
        var added: [AddedToken]
        /// The frame: ids before and after each text.
        var before: [Int]
        var after: [Int]
        var unknownId: Int?
        var fuseUnknown: Bool
        var size: Int
        /// The id of tokenizer_config.json's pad_token, when it has one
        /// (what the Hugging Face tokenizer pads with).
        var padToken: Int?

        /// Whether every pattern it matches is non-empty (a prepared file
        /// is checked against this too).
        var isWellFormed: Bool {
            let patterns = normalizations.compactMap { step -> String? in
                if case let .replace(pattern, _) = step { return pattern }
                return nil
            }
            return !patterns.contains("") && split?.pattern.isEmpty != true && !added.contains { $0.content.isEmpty }
        }
    }

    let definition: Definition
    /// Unicode scalar → id of the piece that is that one character.
    let characters: MergeTable
    /// (first id << 32 | second id) → (rank << 32 | merged id).
    let merges: MergeTable
    /// byte → id of its `<0xXX>` piece (-1 where the vocabulary lacks it);
    /// nil without byte fallback.
    let byteIDs: [Int32]?
    public let contextLength: Int
    /// Fills each sequence up to the context length (SigLIP's towers read
    /// whole padded sequences); nil to leave them unpadded.
    var padId: Int?
    /// What is done to a text before anything else.
    var cleaning = Cleaning.none

    enum Cleaning: Sendable {
        case none
        /// open_clip's "canonicalize" (its HFTokenizer with clean="canonicalize",
        /// as its SigLIP configurations ask): see `TextCleaner.canonicalize`.
        case canonicalize
    }

    public var vocabularySize: Int { definition.size }

    /// The added tokens (as scalars) by their first scalar, longest first,
    /// for each value of `normalized`: a query is checked against the few
    /// that can start at each position, not all of them (Gemma has thousands).
    private let addedByFirst: [Bool: [UInt32: [(scalars: [Unicode.Scalar], index: Int)]]]

    init(definition: Definition, characters: MergeTable, merges: MergeTable, byteIDs: [Int32]?, contextLength: Int, padId: Int?) {
        var addedByFirst: [Bool: [UInt32: [(scalars: [Unicode.Scalar], index: Int)]]] = [false: [:], true: [:]]
        for (index, token) in definition.added.enumerated() {
            let scalars = Array(token.content.unicodeScalars)
            guard let first = scalars.first else { continue }
            addedByFirst[token.normalized, default: [:]][first.value, default: []].append((scalars, index))
        }
        for normalized in [false, true] {
            addedByFirst[normalized] = addedByFirst[normalized]!.mapValues { $0.sorted { $0.scalars.count > $1.scalars.count } }
        }
        self.addedByFirst = addedByFirst
        self.definition = definition
        self.characters = characters
        self.merges = merges
        self.byteIDs = byteIDs
        self.contextLength = contextLength
        self.padId = padId
    }

    /// The ids of `text` framed, cut to the context length with the frame
    /// kept, and padded to it (with a padding id).
    public func tokenize(_ text: String) -> [Int] {
        var ids = encode(cleaning == .canonicalize ? TextCleaner.canonicalize(text) : text)
        let room = contextLength - definition.before.count - definition.after.count
        if ids.count > room { ids.removeLast(ids.count - room) }
        ids = definition.before + ids + definition.after
        if let padId { ids += Array(repeating: padId, count: contextLength - ids.count) }
        return ids
    }

    /// The ids of `text` without the frame or truncation.
    func encode(_ text: String) -> [Int] {
        var ids: [Int] = []
        for piece in splitAdded(Array(text.unicodeScalars), normalized: false) {
            switch piece {
            case let .token(id):
                ids.append(id)
            case let .text(scalars):
                for inner in splitAdded(normalize(scalars), normalized: true) {
                    switch inner {
                    case let .token(id): ids.append(id)
                    case let .text(normalized):
                        for word in preTokenize(normalized) { ids += encodeWord(word) }
                    }
                }
            }
        }
        return ids
    }

    enum Piece {
        case token(Int)
        case text([Unicode.Scalar])
    }

    /// Cuts the added tokens whose `normalized` flag is `normalized` out of
    /// `scalars`: at each position the longest one starting there, the
    /// leftmost match first; `lstrip` / `rstrip` tokens take the white space
    /// beside them along.
    func splitAdded(_ scalars: [Unicode.Scalar], normalized: Bool) -> [Piece] {
        guard let table = addedByFirst[normalized], !table.isEmpty, !scalars.isEmpty else { return scalars.isEmpty ? [] : [.text(scalars)] }
        var pieces: [Piece] = []
        var start = 0, position = 0
        while position < scalars.count {
            // The longest added token starting here (candidates are longest first).
            let match = table[scalars[position].value]?.first { candidate in
                candidate.scalars.count <= scalars.count - position
                    && scalars[position..<(position + candidate.scalars.count)].elementsEqual(candidate.scalars)
            }
            guard let match else {
                position += 1
                continue
            }
            let token = definition.added[match.index]
            var from = position, to = position + match.scalars.count
            if token.leftStrip {
                while from > start, scalars[from - 1].properties.isWhitespace { from -= 1 }
            }
            if token.rightStrip {
                while to < scalars.count, scalars[to].properties.isWhitespace { to += 1 }
            }
            if from > start { pieces.append(.text(Array(scalars[start..<from]))) }
            pieces.append(.token(token.id))
            start = to
            position = to
        }
        if start < scalars.count { pieces.append(.text(Array(scalars[start...]))) }
        return pieces
    }

    /// The normalizers, in order.
    func normalize(_ input: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var scalars = input
        for step in definition.normalizations {
            switch step {
            case .lowercase:
                // One character at a time, as Rust's char::to_lowercase (Σ is always σ).
                scalars = scalars.flatMap { $0.properties.lowercaseMapping.unicodeScalars }
            case .nfc: scalars = Array(String(String.UnicodeScalarView(scalars)).precomposedStringWithCanonicalMapping.unicodeScalars)
            case .nfkc: scalars = Array(String(String.UnicodeScalarView(scalars)).precomposedStringWithCompatibilityMapping.unicodeScalars)
            case .nfd: scalars = Array(String(String.UnicodeScalarView(scalars)).decomposedStringWithCanonicalMapping.unicodeScalars)
            case .nfkd: scalars = Array(String(String.UnicodeScalarView(scalars)).decomposedStringWithCompatibilityMapping.unicodeScalars)
            case let .prepend(text):
                if !scalars.isEmpty { scalars = Array(text.unicodeScalars) + scalars }
            case let .replace(pattern, content):
                scalars = Self.replacing(Array(pattern.unicodeScalars), with: Array(content.unicodeScalars), in: scalars)
            }
        }
        return scalars
    }

    static func replacing(_ pattern: [Unicode.Scalar], with content: [Unicode.Scalar], in scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var result: [Unicode.Scalar] = []
        result.reserveCapacity(scalars.count)
        var index = 0
        while index < scalars.count {
            if scalars[index] == pattern[0], index + pattern.count <= scalars.count,
               scalars[index..<(index + pattern.count)].elementsEqual(pattern) {
                result += content
                index += pattern.count
            } else {
                result.append(scalars[index])
                index += 1
            }
        }
        return result
    }

    /// The pre-tokenizer's pieces (the whole text without one).
    func preTokenize(_ scalars: [Unicode.Scalar]) -> [ArraySlice<Unicode.Scalar>] {
        guard let split = definition.split, !scalars.isEmpty else { return scalars.isEmpty ? [] : [scalars[...]] }
        let pattern = Array(split.pattern.unicodeScalars)
        // Matches, left to right, without overlap.
        var matches: [Range<Int>] = []
        var index = 0
        while index + pattern.count <= scalars.count {
            if scalars[index..<(index + pattern.count)].elementsEqual(pattern) {
                matches.append(index..<(index + pattern.count))
                index += pattern.count
            } else {
                index += 1
            }
        }
        var pieces: [ArraySlice<Unicode.Scalar>] = []
        var start = 0
        for match in matches {
            switch split.behavior {
            case .removed:
                pieces.append(scalars[start..<match.lowerBound])
                start = match.upperBound
            case .isolated:
                pieces.append(scalars[start..<match.lowerBound])
                pieces.append(scalars[match])
                start = match.upperBound
            case .mergedWithPrevious:
                pieces.append(scalars[start..<match.upperBound])
                start = match.upperBound
            case .mergedWithNext:
                pieces.append(scalars[start..<match.lowerBound])
                start = match.lowerBound
            }
        }
        pieces.append(scalars[start...])
        return pieces.filter { !$0.isEmpty }
    }

    /// One pre-tokenized word: its characters' ids (or bytes' pieces, or
    /// `<unk>`), merged as the library's `Word::merge_all` does.
    func encodeWord(_ word: ArraySlice<Unicode.Scalar>) -> [Int] {
        var symbols: [Int32] = []
        symbols.reserveCapacity(word.count)
        var unknownPending = false
        for scalar in word {
            if let id = characters.rule(UInt64(scalar.value)) {
                if unknownPending, let unknown = definition.unknownId { symbols.append(Int32(unknown)) }
                unknownPending = false
                symbols.append(Int32(truncatingIfNeeded: id))
                continue
            }
            if let byteIDs {
                let pieces = Array(String(scalar).utf8).map { byteIDs[Int($0)] }
                if !pieces.contains(-1) {
                    // The library adds a pending <unk> only before a known
                    // character, not before byte pieces.
                    symbols += pieces
                    continue
                }
            }
            guard let unknown = definition.unknownId else { continue }
            if unknownPending, definition.fuseUnknown { continue }
            if unknownPending { symbols.append(Int32(unknown)) }
            unknownPending = true
        }
        if unknownPending, let unknown = definition.unknownId { symbols.append(Int32(unknown)) }
        return Self.mergeAll(symbols, merges: merges).map(Int.init)
    }

    /// Merges adjacent symbols, the pair of lowest rank first and, among
    /// equal ranks, the leftmost: a binary heap of candidate merges, each
    /// checked against the symbols when it comes up (one that no longer
    /// makes the same piece is stale and skipped).
    static func mergeAll(_ ids: [Int32], merges: MergeTable) -> [Int32] {
        guard ids.count > 1 else { return ids }
        var symbol = ids
        var next = Array(1...ids.count), previous = Array(-1..<(ids.count - 1))
        var removed = [Bool](repeating: false, count: ids.count)
        var heap = MergeHeap()
        for index in 0..<(ids.count - 1) {
            if let rule = merges.rule(Vocabulary.key(ids[index], ids[index + 1])) { heap.push(rule: rule, position: index) }
        }
        while let (rule, position) = heap.pop() {
            guard !removed[position], next[position] < ids.count else { continue }
            let right = next[position]
            guard let current = merges.rule(Vocabulary.key(symbol[position], symbol[right])),
                  current & 0xFFFF_FFFF == rule & 0xFFFF_FFFF else { continue }
            symbol[position] = Int32(truncatingIfNeeded: rule & 0xFFFF_FFFF)
            removed[right] = true
            next[position] = next[right]
            if next[right] < ids.count { previous[next[right]] = position }
            if previous[position] >= 0, let rule = merges.rule(Vocabulary.key(symbol[previous[position]], symbol[position])) {
                heap.push(rule: rule, position: previous[position])
            }
            if next[position] < ids.count, let rule = merges.rule(Vocabulary.key(symbol[position], symbol[next[position]])) {
                heap.push(rule: rule, position: position)
            }
        }
        return (0..<ids.count).filter { !removed[$0] }.map { symbol[$0] }
    }
}

/// A binary min-heap of candidate merges ordered by (rank, position).
private struct MergeHeap {
    private var items: [(key: UInt64, rule: UInt64)] = []

    mutating func push(rule: UInt64, position: Int) {
        // rank in the high half, position in the low: one comparison orders both.
        items.append(((rule >> 32) << 32 | UInt64(position), rule))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].key < items[parent].key else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (rule: UInt64, position: Int)? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < items.count, items[left].key < items[smallest].key { smallest = left }
                if right < items.count, items[right].key < items[smallest].key { smallest = right }
                if smallest == parent { break }
                items.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return (top.rule, Int(top.key & 0xFFFF_FFFF))
    }
}

extension GemmaTokenizer {
    static let preparedVersion: UInt64 = 2

    /// The tokenizer as words for a prepared file, read back in place by
    /// `init(prepared:…)`: version, the definition's JSON length, whether
    /// there is byte fallback, the two tables' word counts; the definition
    /// (JSON, zero-padded to whole words); 256 byte ids; the character
    /// table's words, then the merge table's.
    var preparedWords: [UInt64] {
        let json = [UInt8]((try? JSONEncoder().encode(definition)) ?? Data())
        var header: [UInt64] = [Self.preparedVersion, UInt64(json.count), byteIDs == nil ? 0 : 1, 0, 0]
        var tables: [UInt64] = []
        characters.withWords { tables += $0 }
        header[3] = UInt64(tables.count)
        merges.withWords { tables += $0 }
        header[4] = UInt64(tables.count) - header[3]
        var padded = json + [UInt8](repeating: 0, count: (8 - json.count % 8) % 8)
        var words = header
        padded.withUnsafeBytes { words += $0.bindMemory(to: UInt64.self) }
        padded.removeAll()
        words += (byteIDs ?? [Int32](repeating: -1, count: 256)).map { UInt64(UInt32(bitPattern: $0)) }
        return words + tables
    }

    /// The tokenizer saved by `preparedWords`, its tables used in place
    /// (kept alive by `owner`); nil unless every id in it is within range.
    init?(prepared bytes: UnsafeRawBufferPointer, owner: any AnyObject & Sendable, contextLength: Int, padId: Int?) {
        guard let base = bytes.baseAddress, Int(bitPattern: base) % 8 == 0, bytes.count % 8 == 0, bytes.count / 8 > 5 else { return nil }
        let words = base.assumingMemoryBound(to: UInt64.self), count = bytes.count / 8
        guard words[0] == Self.preparedVersion, words[2] <= 1, words[1] < 1 << 26, words[3] < 1 << 40, words[4] < 1 << 40 else { return nil }
        let jsonWords = (Int(words[1]) + 7) / 8
        let characterWords = Int(words[3]), mergeWords = Int(words[4])
        guard 5 + jsonWords + 256 + characterWords + mergeWords == count,
              let definition = try? JSONDecoder().decode(Definition.self, from: Data(UnsafeRawBufferPointer(start: words + 5, count: Int(words[1])))),
              definition.isWellFormed, definition.size > 0, definition.size < 1 << 31,
              (definition.before + definition.after + definition.added.map(\.id)).allSatisfy({ $0 >= 0 && $0 < definition.size }),
              definition.unknownId.map({ $0 >= 0 && $0 < definition.size }) ?? true,
              definition.padToken.map({ $0 >= 0 && $0 < definition.size }) ?? true,
              definition.before.count + definition.after.count < contextLength else { return nil }
        let byteWords = words + 5 + jsonWords
        let byteIDs = (0..<256).map { Int32(bitPattern: UInt32(truncatingIfNeeded: byteWords[$0])) }
        guard byteIDs.allSatisfy({ $0 >= -1 && Int($0) < definition.size }),
              let characters = MergeTable(words: byteWords + 256, count: characterWords, owner: owner, vocabularySize: definition.size,
                                          keyLimit: 0x11_0000),
              let merges = MergeTable(words: byteWords + 256 + characterWords, count: mergeWords, owner: owner,
                                      vocabularySize: definition.size) else { return nil }
        self.init(definition: definition, characters: characters, merges: merges, byteIDs: words[2] == 1 ? byteIDs : nil,
                  contextLength: contextLength, padId: padId.flatMap { $0 < definition.size ? $0 : nil })
    }
}
