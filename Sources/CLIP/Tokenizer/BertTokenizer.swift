import Foundation

/// BERT's tokenizer, as transformers' `BertTokenizer` runs it (the Hugging
/// Face tokenizers library: BertNormalizer, BertPreTokenizer, WordPiece,
/// then `[CLS] … [SEP]`), for Chinese-CLIP's RoBERTa-wwm text tower.
///
/// Normalising: characters U+0000, U+FFFD and those of category Cc, Cf, Cn,
/// Co or Cs (tab, newline and carriage return excepted) are dropped, white
/// space becomes a space; each CJK ideograph is set apart by spaces; with
/// accent stripping, the text is decomposed (NFD) and nonspacing marks
/// (Mn) dropped; with lower-casing, each character takes its full lowercase
/// mapping, one character at a time (so Σ is always σ). Splitting: at white
/// space, and around each punctuation character (ASCII punctuation, or a
/// category P*). WordPiece: per word, the longest vocabulary entry from the
/// left, then the longest `##`-prefixed one from where it ended, and so on; a
/// word it cannot cover, or longer than 100 characters, is `[UNK]`.
public struct BertTokenizer: TextTokenizer {
    public struct Options: Sendable, Equatable {
        public var lowercase = true
        /// nil: as `lowercase` (BertNormalizer's default).
        public var stripAccents: Bool? = nil
        public var tokenizeChineseCharacters = true

        public init(lowercase: Bool = true, stripAccents: Bool? = nil, tokenizeChineseCharacters: Bool = true) {
            self.lowercase = lowercase
            self.stripAccents = stripAccents
            self.tokenizeChineseCharacters = tokenizeChineseCharacters
        }
    }

    let ids: [String: Int]
    let options: Options
    let unknownId: Int
    let classId: Int
    let separatorId: Int
    public let contextLength: Int
    public let vocabularySize: Int

    /// Words longer than this (in characters) are `[UNK]` (WordPiece's
    /// max_input_chars_per_word).
    static let longestWord = 100

    /// The vocabulary as `vocab.txt` holds it: one token per line, its id the
    /// line number from 0.
    public init(vocabulary text: String, options: Options, contextLength: Int, path: String = "vocab.txt") throws(CLIPError) {
        var ids: [String: Int] = [:]
        var count = 0
        // (Lines end in "\n" or "\r\n", as Python's universal newlines read
        // them; "\r\n" is one Character, which a split at "\n" never meets.)
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            var token = String(line)
            if token.hasSuffix("\r") { token.removeLast() }
            // A trailing newline ends the file; it is not an empty token.
            if token.isEmpty, count > 0, line.endIndex == text.endIndex { break }
            // transformers keeps the first id of a token listed twice.
            if ids[token] == nil { ids[token] = count }
            count += 1
        }
        func special(_ name: String) throws(CLIPError) -> Int {
            guard let id = ids[name] else { throw .invalidVocabulary(path: path, reason: "it has no \(name) token") }
            return id
        }
        guard contextLength >= 2 else {
            throw .invalidVocabulary(path: path, reason: "a context of \(contextLength) tokens cannot hold [CLS] and [SEP]")
        }
        self.ids = ids
        self.options = options
        self.contextLength = contextLength
        vocabularySize = count
        unknownId = try special("[UNK]")
        classId = try special("[CLS]")
        separatorId = try special("[SEP]")
    }

    /// Reads `vocab.txt` at `path`, refusing more tokens than
    /// `maximumTokens` (the text tower's vocabulary) before splitting it: 60 MB
    /// of empty lines took 2.3 GB as a list of lines.
    public init(vocabularyFile path: String, options: Options, contextLength: Int, maximumTokens: Int = .max) throws(CLIPError) {
        let data = try JSONFile.contents(of: path)
        guard data.count <= 64 << 20 else { throw .invalidVocabulary(path: path, reason: "over 64 MB") }
        // (A last line without its newline is counted by `vocabularySize` after.)
        let lines = data.reduce(0) { $1 == 0x0A ? $0 + 1 : $0 }
        guard lines <= maximumTokens else {
            throw .invalidVocabulary(path: path, reason: "it has \(lines) lines, more than the text tower's \(maximumTokens) tokens")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw .invalidVocabulary(path: path, reason: "it is not UTF-8 text")
        }
        try self.init(vocabulary: text, options: options, contextLength: contextLength, path: path)
    }

    /// [CLS] + the word pieces of `text` + [SEP], the pieces cut so that the
    /// whole fits the context length.
    public func tokenize(_ text: String) -> [Int] {
        var pieces = encode(text)
        if pieces.count > contextLength - 2 { pieces.removeLast(pieces.count - (contextLength - 2)) }
        return [classId] + pieces + [separatorId]
    }

    /// The word-piece ids of `text`, without [CLS], [SEP] or truncation.
    public func encode(_ text: String) -> [Int] {
        var result: [Int] = []
        for word in Self.words(normalize(text)) {
            result += wordPieces(word)
        }
        return result
    }

    /// BertNormalizer: clean, set CJK apart, strip accents, lower-case.
    func normalize(_ text: String) -> [Unicode.Scalar] {
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            if scalar.value == 0 || scalar.value == 0xFFFD || Self.isControl(scalar) { continue }
            if Self.isWhitespace(scalar) {
                scalars.append(" ")
            } else if options.tokenizeChineseCharacters, Self.isChineseCharacter(scalar) {
                scalars += [" ", scalar, " "]
            } else {
                scalars.append(scalar)
            }
        }
        if options.stripAccents ?? options.lowercase {
            let decomposed = String(String.UnicodeScalarView(scalars)).decomposedStringWithCanonicalMapping
            scalars = decomposed.unicodeScalars.filter { $0.properties.generalCategory != .nonspacingMark }
        }
        if options.lowercase {
            var lowered = String.UnicodeScalarView()
            for scalar in scalars { CharacterClasses.appendLowercased(scalar, to: &lowered) }
            scalars = Array(lowered)
        }
        return scalars
    }

    /// BertPreTokenizer: split at white space (dropped) and around each
    /// punctuation character (kept, alone).
    static func words(_ scalars: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var words: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        for scalar in scalars {
            if isWhitespace(scalar) {
                if !current.isEmpty { words.append(current); current = [] }
            } else if isPunctuation(scalar) {
                if !current.isEmpty { words.append(current); current = [] }
                words.append([scalar])
            } else {
                current.append(scalar)
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    /// WordPiece: greedy longest match from the left, `##` on every piece
    /// after the first; the whole word is [UNK] when any part has no match.
    func wordPieces(_ word: [Unicode.Scalar]) -> [Int] {
        guard word.count <= Self.longestWord else { return [unknownId] }
        var pieces: [Int] = []
        var start = 0
        while start < word.count {
            var end = word.count
            var found: Int?
            while end > start {
                var piece = start > 0 ? "##" : ""
                piece.unicodeScalars.append(contentsOf: word[start..<end])
                if let id = ids[piece] {
                    found = id
                    break
                }
                end -= 1
            }
            guard let found else { return [unknownId] }
            pieces.append(found)
            start = end
        }
        return pieces
    }

    // MARK: Character classes, as the tokenizers library defines them

    /// Tab, newline, carriage return, and Unicode's White_Space (Rust's
    /// `char::is_whitespace`).
    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isWhitespace
    }

    /// Categories Cc, Cf, Cn, Co and Cs, except tab, newline and carriage return.
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09, 0x0A, 0x0D: return false
        default: break
        }
        switch scalar.properties.generalCategory {
        case .control, .format, .unassigned, .privateUse, .surrogate: return true
        default: return false
        }
    }

    /// ASCII punctuation (`!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~`) or a category P*.
    static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x21...0x2F, 0x3A...0x40, 0x5B...0x60, 0x7B...0x7E: return true
        default: break
        }
        switch scalar.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    /// The CJK Unified Ideographs blocks the tokenizers library sets apart
    /// (normalizers/bert.rs `is_chinese_char`).
    static func isChineseCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }
}
