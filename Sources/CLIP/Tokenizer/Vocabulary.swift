import CEmbeddedFiles
import Foundation

/// A BPE vocabulary as the encoder uses it: ids for each byte's character
/// (with and without the end-of-word mark), merge rules between ids, and the
/// start/end-of-text tokens.
struct Vocabulary: Sendable {
    /// byte → id of its character, and of its character + "</w>".
    let byteIDs: [Int32]
    let byteEndIDs: [Int32]
    /// (first id << 32 | second id) → (rank << 32 | merged id).
    let merges: MergeTable
    let startOfText: String
    let endOfText: String
    let startId: Int
    let endId: Int
    let size: Int

    /// Number of merges CLIP uses from its merge file (open_clip and
    /// transformers both slice `[1 : 49152 - 256 - 2 + 1]`).
    static let mergeCount = 49152 - 256 - 2

    static func key(_ first: Int32, _ second: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: first)) << 32 | UInt64(UInt32(bitPattern: second))
    }

    /// OpenAI's bpe_simple_vocab_16e6.txt.gz as open_clip builds it: the 256
    /// byte characters, the same with "</w>", one token per merge, then
    /// "<start_of_text>" and "<end_of_text>" (ids 49406 and 49407). The file
    /// is compiled into the executable (CEmbeddedFiles).
    static func standard() throws(CLIPError) -> Vocabulary {
        let path = "bpe_simple_vocab_16e6.txt (built in)"
        var length = 0
        guard let text = ps_bpe_vocabulary(&length) else {
            throw .invalidVocabulary(path: path, reason: "it cannot be decompressed (out of memory?)")
        }
        defer { free(text) }
        let bytes = Array(UnsafeBufferPointer(start: text, count: length))
        var ids: [String: Int] = [:]
        ids.reserveCapacity(49408)
        var byteIDs = [Int32](repeating: 0, count: 256), byteEndIDs = [Int32](repeating: 0, count: 256)
        for (index, byte) in ByteEncoder.byteOrder.enumerated() {
            let character = ByteEncoder.characters[Int(byte)]
            ids[character] = index
            ids[character + "</w>"] = 256 + index
            byteIDs[Int(byte)] = Int32(index)
            byteEndIDs[Int(byte)] = Int32(256 + index)
        }
        var merges: [UInt64: UInt64] = [:]
        merges.reserveCapacity(mergeCount)
        var lines = LineReader(bytes)
        _ = lines.next()   // version header
        for rank in 0..<mergeCount {
            guard let (first, second) = lines.nextPair() else {
                throw .invalidVocabulary(path: path, reason: "\(rank) merges, expected \(mergeCount)")
            }
            guard let a = ids[first], let b = ids[second] else {
                throw .invalidVocabulary(path: path, reason: "merge \(rank + 1) uses unknown tokens \(first) \(second)")
            }
            let merged = 512 + rank
            ids[first + second] = merged
            merges[key(Int32(a), Int32(b))] = UInt64(rank) << 32 | UInt64(merged)
        }
        return Vocabulary(byteIDs: byteIDs, byteEndIDs: byteEndIDs, merges: MergeTable(merges),
                          startOfText: "<start_of_text>", endOfText: "<end_of_text>", startId: 49406, endId: 49407, size: 49408)
    }

    /// A transformers CLIPTokenizer's vocab.json and merges.txt.
    static func transformers(vocabularyPath: String, mergesPath: String) throws(CLIPError) -> Vocabulary {
        let vocabularyData = try JSONFile.contents(of: vocabularyPath)
        let mergesData = try JSONFile.contents(of: mergesPath)
        let ids = try JSONFile.decode([String: Int].self, from: vocabularyData) { reason in
            .invalidVocabulary(path: vocabularyPath, reason: "not a JSON object of token ids: \(reason)")
        }
        if let (token, id) = ids.first(where: { $0.value < 0 || $0.value >= Int32.max }) {
            throw .invalidVocabulary(path: vocabularyPath, reason: "token \(token) has the id \(id), outside 0..<\(Int32.max)")
        }
        var byteIDs = [Int32](repeating: 0, count: 256), byteEndIDs = [Int32](repeating: 0, count: 256)
        for byte in 0..<256 {
            let character = ByteEncoder.characters[byte]
            guard let id = ids[character], let endID = ids[character + "</w>"] else {
                throw .invalidVocabulary(path: vocabularyPath, reason: "byte token \(character) is missing")
            }
            byteIDs[byte] = Int32(id)
            byteEndIDs[byte] = Int32(endID)
        }
        for special in ["<|startoftext|>", "<|endoftext|>"] where ids[special] == nil {
            throw .invalidVocabulary(path: vocabularyPath, reason: "special token \(special) is missing")
        }
        var merges: [UInt64: UInt64] = [:]
        var lines = LineReader(Array(mergesData))
        _ = lines.next()   // "#version: 0.2"
        var rank = 0
        while rank < mergeCount, let (first, second) = lines.nextPair() {
            guard let a = ids[first], let b = ids[second], let merged = ids[first + second] else {
                throw .invalidVocabulary(path: mergesPath, reason: "merge \(rank + 1) (\(first) \(second)) is not in vocab.json")
            }
            // (CLIP's merges are distinct, each making one token of the
            // vocabulary: a file of repeats would pass the count below.)
            guard merges[key(Int32(a), Int32(b))] == nil else {
                throw .invalidVocabulary(path: mergesPath, reason: "merge \(rank + 1) (\(first) \(second)) repeats an earlier one")
            }
            merges[key(Int32(a), Int32(b))] = UInt64(rank) << 32 | UInt64(merged)
            rank += 1
        }
        // Fewer merges (an empty, cut or garbled file) would tokenize silently
        // differently from the model's training: refuse them.
        guard rank == mergeCount else {
            throw .invalidVocabulary(path: mergesPath, reason: "\(rank) merge rules where CLIP's tokenizer has \(mergeCount); is the file cut short or not a merges file?")
        }
        return Vocabulary(byteIDs: byteIDs, byteEndIDs: byteEndIDs, merges: MergeTable(merges),
                          startOfText: "<|startoftext|>", endOfText: "<|endoftext|>",
                          startId: ids["<|startoftext|>"]!, endId: ids["<|endoftext|>"]!, size: (ids.values.max() ?? 0) + 1)
    }
}

extension Vocabulary {
    /// The vocabulary as words for a prepared file, read back in place by
    /// `init(prepared:…)`: version, special-token style (0: open_clip's,
    /// 1: transformers'), start id, end id, size, the 256 byte ids, the 256
    /// end-of-word byte ids, then the merge table's words.
    var preparedWords: [UInt64] {
        var words: [UInt64] = [Self.preparedVersion, startOfText == "<start_of_text>" ? 0 : 1,
                               UInt64(startId), UInt64(endId), UInt64(size)]
        words += byteIDs.map { UInt64(UInt32(bitPattern: $0)) }
        words += byteEndIDs.map { UInt64(UInt32(bitPattern: $0)) }
        merges.withWords { words += $0 }
        return words
    }

    static let preparedVersion: UInt64 = 1
    private static let preparedHeaderWords = 5 + 2 * 256

    /// The vocabulary saved by `preparedWords`, its merge table used in place
    /// (kept alive by `owner`); nil unless every id in it is within range.
    init?(prepared bytes: UnsafeRawBufferPointer, owner: any AnyObject & Sendable) {
        guard let base = bytes.baseAddress, Int(bitPattern: base) % 8 == 0, bytes.count % 8 == 0,
              bytes.count / 8 > Self.preparedHeaderWords else { return nil }
        let words = base.assumingMemoryBound(to: UInt64.self)
        let size = words[4]
        guard words[0] == Self.preparedVersion, words[1] <= 1, size > 0, size < 1 << 31, words[2] < size, words[3] < size,
              (5..<Self.preparedHeaderWords).allSatisfy({ words[$0] < size }),
              let merges = MergeTable(words: words + Self.preparedHeaderWords, count: bytes.count / 8 - Self.preparedHeaderWords,
                                      owner: owner, vocabularySize: Int(size)) else { return nil }
        let openCLIP = words[1] == 0
        self.init(byteIDs: (5..<261).map { Int32(words[$0]) }, byteEndIDs: (261..<517).map { Int32(words[$0]) }, merges: merges,
                  startOfText: openCLIP ? "<start_of_text>" : "<|startoftext|>", endOfText: openCLIP ? "<end_of_text>" : "<|endoftext|>",
                  startId: Int(words[2]), endId: Int(words[3]), size: Int(size))
    }
}

/// Where a model's vocabulary comes from.
enum VocabularySource {
    /// OpenAI's, built into photosearch (open_clip folders).
    case standard
    /// A transformers folder's vocab.json and merges.txt.
    case transformers(vocabulary: String, merges: String)

    /// Its name in a prepared file: the source and, for files, their
    /// identity, so that edited files are read again.
    var key: String {
        switch self {
        case .standard:
            return "tokenizer:bpe_simple_vocab_16e6:v\(Vocabulary.preparedVersion)"
        case let .transformers(vocabulary, merges):
            let files = [vocabulary, merges].map { path in
                WeightsFileIdentity(path: path).map { "\($0.size)-\($0.modifiedAt)-\($0.changedAt)-\($0.inode)" } ?? "missing"
            }
            return "tokenizer:vocab.json:\(files[0]):merges.txt:\(files[1]):v\(Vocabulary.preparedVersion)"
        }
    }

    func load() throws(CLIPError) -> Vocabulary {
        switch self {
        case .standard: return try Vocabulary.standard()
        case let .transformers(vocabulary, merges): return try Vocabulary.transformers(vocabularyPath: vocabulary, mergesPath: merges)
        }
    }
}

/// Lines of a UTF-8 text, read from bytes without building the whole text.
struct LineReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    mutating func next() -> ArraySlice<UInt8>? {
        guard offset < bytes.count else { return nil }
        var end = offset
        while end < bytes.count, bytes[end] != 0x0A { end += 1 }
        defer { offset = end + 1 }
        var line = bytes[offset..<end]
        if line.last == 0x0D { line = line.dropLast() }
        return line
    }

    /// The next line split at its single space, as two strings.
    mutating func nextPair() -> (String, String)? {
        while let line = next() {
            if line.isEmpty { continue }
            guard let space = line.firstIndex(of: 0x20) else { return nil }
            return (String(decoding: line[line.startIndex..<space], as: UTF8.self),
                    String(decoding: line[(space + 1)...], as: UTF8.self))
        }
        return nil
    }
}
