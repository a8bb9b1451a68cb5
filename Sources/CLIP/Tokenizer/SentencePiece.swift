/// A SentencePiece unigram model (`spiece.model`, a protobuf ModelProto) as
/// the sentencepiece library encodes with it: the normaliser (its
/// precompiled character map, a Darts double-array trie of replacements such
/// as nmt_nfkc's; the dummy "▁" prefix; extra whitespace removed; spaces
/// escaped as "▁"), then the most probable segmentation into pieces (Viterbi
/// over the pieces' scores, a character no piece covers becoming `<unk>`).
///
/// The file is read with a small protobuf wire-format reader that checks
/// every length against what is left (fuzzed: `fuzz-spiece`).
struct SentencePieceModel: Sendable {
    enum PieceType: Int, Sendable {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    /// Piece bytes → id, for the pieces a segmentation may use (normal,
    /// user-defined and unused ones, as the library's trie holds them).
    let ids: [[UInt8]: Int32]
    let scores: [Float]
    let types: [PieceType]
    /// Every piece's text, by id (control pieces included: `</s>`, `<pad>`).
    let pieces: [String]
    let longestPiece: Int
    let unknownId: Int
    let minimumScore: Float
    let maximumScore: Float
    /// User-defined pieces, matched before the character map.
    let userDefined: [[UInt8]]
    let charsMap: CharsMap?
    let addDummyPrefix: Bool
    let removeExtraWhitespaces: Bool
    let escapeWhitespaces: Bool
    /// byte → id of its `<0xXX>` piece, with byte fallback: an unknown
    /// character becomes its UTF-8 bytes' pieces instead of `<unk>`.
    let bytePieces: [Int]?

    static let spaceSymbol: [UInt8] = Array("\u{2581}".utf8)
    static let longestAllowedPiece = 256

    /// The largest spiece.model read (T5's is 0.8 MB, a 250 000-piece multilingual one ~5 MB).
    static let maximumSize = 64 << 20

    init(bytes: [UInt8], path: String) throws(CLIPError) {
        func invalid(_ reason: String) -> CLIPError { .invalidVocabulary(path: path, reason: reason) }
        var pieces: [(String, Float, PieceType)] = []
        var normalizer: [UInt8] = []
        var trainer: [UInt8] = []
        do {
            var reader = ProtobufReader(bytes[...])
            while let (field, wire) = try reader.nextField() {
                switch (field, wire) {
                case (1, 2):
                    var piece = ProtobufReader(try reader.lengthDelimited())
                    var text = "", score: Float = 0, type = PieceType.normal
                    while let (inner, innerWire) = try piece.nextField() {
                        switch (inner, innerWire) {
                        case (1, 2):
                            let raw = try piece.lengthDelimited()
                            guard let decoded = String(validating: raw, as: UTF8.self) else { throw ProtobufReader.Malformed.text }
                            text = decoded
                        case (2, 5): score = Float(bitPattern: try piece.fixed32())
                        case (3, 0):
                            guard let known = Int(exactly: try piece.varint()).flatMap(PieceType.init(rawValue:)) else { throw ProtobufReader.Malformed.enumeration }
                            type = known
                        default: try piece.skip(innerWire)
                        }
                    }
                    pieces.append((text, score, type))
                case (2, 2): trainer = Array(try reader.lengthDelimited())
                case (3, 2): normalizer = Array(try reader.lengthDelimited())
                default: try reader.skip(wire)
                }
            }
        } catch {
            throw invalid("not a SentencePiece model (\(error))")
        }
        guard !pieces.isEmpty, pieces.count < 1 << 24 else { throw invalid("it has \(pieces.count) pieces") }

        // TrainerSpec: the model type and the special ids; anything that
        // changes how text is encoded and is not implemented is refused.
        var modelType: UInt64 = 1, unknownId = 0, byteFallback = false, whitespaceSuffix = false
        var normalizerName = "", charsMapBytes: [UInt8] = [], addDummyPrefix = true, removeExtra = true, escape = true
        do {
            var reader = ProtobufReader(trainer[...])
            while let (field, wire) = try reader.nextField() {
                switch (field, wire) {
                case (3, 0): modelType = try reader.varint()
                case (24, 0): whitespaceSuffix = try reader.varint() != 0
                case (35, 0): byteFallback = try reader.varint() != 0
                case (40, 0): unknownId = Int(truncatingIfNeeded: Int32(truncatingIfNeeded: try reader.varint()))
                default: try reader.skip(wire)
                }
            }
            var spec = ProtobufReader(normalizer[...])
            while let (field, wire) = try spec.nextField() {
                switch (field, wire) {
                case (1, 2): normalizerName = String(decoding: try spec.lengthDelimited(), as: UTF8.self)
                case (2, 2): charsMapBytes = Array(try spec.lengthDelimited())
                case (3, 0): addDummyPrefix = try spec.varint() != 0
                case (4, 0): removeExtra = try spec.varint() != 0
                case (5, 0): escape = try spec.varint() != 0
                case (6, 2): if !(try spec.lengthDelimited()).isEmpty { throw ProtobufReader.Malformed.unsupported("normalization_rule_tsv") }
                default: try spec.skip(wire)
                }
            }
        } catch let error as ProtobufReader.Malformed {
            if case let .unsupported(what) = error { throw CLIPError.unsupportedArchitecture(path: path, reason: "spiece.model: \(what)") }
            throw invalid("not a SentencePiece model (\(error))")
        } catch {
            throw invalid("\(error)")
        }
        func unsupported(_ reason: String) -> CLIPError { .unsupportedArchitecture(path: path, reason: "spiece.model: " + reason) }
        guard modelType == 1 else { throw unsupported("model type \(modelType) (only unigram, 1, is supported)") }
        if whitespaceSuffix { throw unsupported("treat_whitespace_as_suffix") }
        guard unknownId >= 0, unknownId < pieces.count, pieces[unknownId].2 == .unknown else {
            throw invalid("the unknown piece \(unknownId) is not an <unk> piece")
        }
        if normalizerName != "identity", !charsMapBytes.isEmpty {
            guard let map = CharsMap(charsMapBytes) else { throw invalid("its normaliser's character map is damaged") }
            charsMap = map
        } else {
            charsMap = nil
        }

        var ids: [[UInt8]: Int32] = [:]
        var longest = 0, minimum = Float.greatestFiniteMagnitude, maximum = -Float.greatestFiniteMagnitude
        var userDefined: [[UInt8]] = []
        for (id, (text, score, type)) in pieces.enumerated() {
            guard score.isFinite else { throw invalid("piece \(id) has a score that is not a number") }
            if type == .normal {
                minimum = min(minimum, score)
                maximum = max(maximum, score)
            }
            guard [.normal, .userDefined, .unused].contains(type), !text.isEmpty else { continue }
            let bytes = Array(text.utf8)
            // Segmenting tries every length up to the longest piece at every
            // position: a file with a huge piece must not make each query cost
            // its square (trained models stop at 16 characters).
            guard bytes.count <= Self.longestAllowedPiece else {
                throw unsupported("piece \(id) is \(bytes.count) bytes long (at most \(Self.longestAllowedPiece))")
            }
            if ids[bytes] == nil { ids[bytes] = Int32(id) }
            longest = max(longest, bytes.count)
            if type == .userDefined { userDefined.append(bytes) }
        }
        guard minimum <= maximum else { throw invalid("it has no normal pieces") }
        if byteFallback {
            var bytePieces = [Int](repeating: -1, count: 256)
            for (id, (text, _, type)) in pieces.enumerated() where type == .byte {
                if text.count == 6, text.hasPrefix("<0x"), text.hasSuffix(">"), let byte = UInt8(text.dropFirst(3).prefix(2), radix: 16) {
                    bytePieces[Int(byte)] = id
                }
            }
            guard !bytePieces.contains(-1) else { throw invalid("byte fallback without all 256 byte pieces") }
            self.bytePieces = bytePieces
        } else {
            bytePieces = nil
        }
        self.ids = ids
        scores = pieces.map(\.1)
        types = pieces.map(\.2)
        self.pieces = pieces.map(\.0)
        longestPiece = longest
        self.unknownId = unknownId
        minimumScore = minimum
        maximumScore = maximum
        self.userDefined = userDefined.sorted { $0.count > $1.count }
        self.addDummyPrefix = addDummyPrefix
        removeExtraWhitespaces = removeExtra
        escapeWhitespaces = escape
    }

    /// The id of a piece, whatever its type (`</s>`, `<pad>` too).
    func id(of piece: String) -> Int? {
        if let id = ids[Array(piece.utf8)] { return Int(id) }
        return pieces.firstIndex(of: piece)
    }

    // MARK: Normalising

    /// The library's `Normalizer::Normalize`.
    func normalize(_ input: [UInt8]) -> [UInt8] {
        var rest = input[...]
        if removeExtraWhitespaces {
            while !rest.isEmpty {
                let (piece, consumed) = normalizePrefix(rest)
                guard piece.elementsEqual([0x20]) else { break }
                rest = rest.dropFirst(consumed)
            }
        }
        guard !rest.isEmpty else { return [] }
        let space = escapeWhitespaces ? Self.spaceSymbol : [0x20]
        var output: [UInt8] = []
        output.reserveCapacity(rest.count * 3 / 2 + 3)
        if addDummyPrefix { output += space }
        var previousSpace = removeExtraWhitespaces
        while !rest.isEmpty {
            let (piece, consumed) = normalizePrefix(rest)
            var text = piece[...]
            while previousSpace, text.first == 0x20 { text = text.dropFirst() }
            if !text.isEmpty {
                for byte in text {
                    if escapeWhitespaces && byte == 0x20 { output += Self.spaceSymbol } else { output.append(byte) }
                }
                previousSpace = text.last == 0x20
            }
            rest = rest.dropFirst(consumed)
        }
        if removeExtraWhitespaces {
            while output.count >= space.count, output.suffix(space.count).elementsEqual(space) { output.removeLast(space.count) }
        }
        return output
    }

    /// The normalised text of the longest prefix the model rewrites, and how
    /// many input bytes it replaces (`Normalizer::NormalizePrefix`).
    func normalizePrefix(_ input: ArraySlice<UInt8>) -> ([UInt8], Int) {
        for piece in userDefined where input.starts(with: piece) { return (piece, piece.count) }
        if let charsMap, let (replacement, length) = charsMap.longestPrefix(input) { return (replacement, length) }
        guard let length = UTF8Validation.validLength(input) else { return ([0xEF, 0xBF, 0xBD], 1) }
        return (Array(input.prefix(length)), length)
    }

    // MARK: Segmenting

    /// The ids of the most probable segmentation of normalised `text`, a run
    /// of unknown characters one `<unk>` (`unigram::Model::EncodeOptimized`).
    func segment(_ text: [UInt8]) -> [Int] {
        let count = text.count
        guard count > 0 else { return [] }
        let unknownScore = minimumScore - 10
        var score = [Float](repeating: 0, count: count + 1)
        var reached = [Bool](repeating: false, count: count + 1)
        var from = [Int](repeating: -1, count: count + 1), piece = [Int32](repeating: -1, count: count + 1)
        reached[0] = true
        var start = 0
        while start < count {
            let characterLength = min(UTF8Validation.validLength(text[start...]) ?? 1, count - start)
            var single = false
            var length = 1
            while length <= min(longestPiece, count - start) {
                if let id = ids[Array(text[start..<(start + length)])], types[Int(id)] != .unused {
                    let gain = types[Int(id)] == .userDefined ? Float(length) * maximumScore - 0.1 : scores[Int(id)]
                    let candidate = score[start] + gain
                    let end = start + length
                    if !reached[end] || candidate > score[end] {
                        (reached[end], score[end], from[end], piece[end]) = (true, candidate, start, id)
                    }
                    if length == characterLength { single = true }
                }
                length += 1
            }
            if !single {
                let end = start + characterLength, candidate = score[start] + unknownScore
                if !reached[end] || candidate > score[end] {
                    (reached[end], score[end], from[end], piece[end]) = (true, candidate, start, Int32(unknownId))
                }
            }
            start += characterLength
        }
        var spans: [(id: Int, range: Range<Int>)] = []
        var end = count
        while end > 0 {
            spans.append((Int(piece[end]), from[end]..<end))
            end = from[end]
        }
        spans.reverse()
        // Consecutive unknown pieces become one; with byte fallback, the
        // bytes of what it covers.
        var merged: [Int] = []
        for (index, span) in spans.enumerated() {
            guard span.id == unknownId else {
                merged.append(span.id)
                continue
            }
            if let bytePieces {
                merged += text[span.range].map { bytePieces[Int($0)] }
            } else if index == 0 || spans[index - 1].id != unknownId {
                merged.append(unknownId)
            }
        }
        return merged
    }

    /// `SentencePieceProcessor::Encode`: normalise, then segment.
    func encode(_ text: String) -> [Int] {
        segment(normalize(Array(text.utf8)))
    }
}

/// The normaliser's precompiled character map: a little-endian 32-bit size,
/// a Darts double-array trie of that many bytes, then the replacement texts,
/// each ending with a zero byte.
struct CharsMap: Sendable {
    let units: [UInt32]
    let replacements: [UInt8]

    init?(_ bytes: [UInt8]) {
        guard bytes.count >= 4 else { return nil }
        let size = Int(UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24)
        guard size % 4 == 0, size >= 4, size <= bytes.count - 4 else { return nil }
        units = stride(from: 4, to: 4 + size, by: 4).map { index in
            UInt32(bytes[index]) | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2]) << 16 | UInt32(bytes[index + 3]) << 24
        }
        replacements = Array(bytes[(4 + size)...])
    }

    /// The replacement of the longest key that `input` starts with, and the
    /// key's length (darts-clone's commonPrefixSearch, the longest of at most
    /// 32 results as the library keeps); nil when none does or the trie
    /// points outside itself.
    func longestPrefix(_ input: ArraySlice<UInt8>) -> ([UInt8], Int)? {
        func offset(_ unit: UInt32) -> Int { Int((unit >> 10) << ((unit & (1 << 9)) >> 6)) }
        var position = offset(units[0])
        var best: (value: Int, length: Int)?
        var results = 0
        for (index, byte) in input.enumerated() {
            position ^= Int(byte)
            guard position < units.count else { return nil }
            let unit = units[position]
            guard unit & ((1 << 31) | 0xFF) == UInt32(byte) else { break }
            position ^= offset(unit)
            guard position < units.count else { return nil }
            if (unit >> 8) & 1 == 1 {
                if results < 32 { best = (Int(units[position] & ((1 << 31) - 1)), index + 1) }
                results += 1
            }
        }
        guard let best, best.value < replacements.count, let end = replacements[best.value...].firstIndex(of: 0) else { return nil }
        return (Array(replacements[best.value..<end]), best.length)
    }
}

/// UTF-8 as the sentencepiece library decodes it (`IsValidDecodeUTF8`).
enum UTF8Validation {
    /// The length of the well-formed character `bytes` starts with; nil when
    /// it starts with a malformed one (overlong, a surrogate, past U+10FFFF,
    /// cut short).
    static func validLength(_ bytes: ArraySlice<UInt8>) -> Int? {
        guard let first = bytes.first else { return nil }
        if first < 0x80 { return 1 }
        let length: Int, minimum: UInt32
        var value: UInt32
        switch first {
        case 0xC0...0xDF: (length, minimum, value) = (2, 0x80, UInt32(first & 0x1F))
        case 0xE0...0xEF: (length, minimum, value) = (3, 0x800, UInt32(first & 0x0F))
        case 0xF0...0xF7: (length, minimum, value) = (4, 0x10000, UInt32(first & 0x07))
        default: return nil
        }
        guard bytes.count >= length else { return nil }
        for byte in bytes.dropFirst().prefix(length - 1) {
            guard byte & 0xC0 == 0x80 else { return nil }
            value = value << 6 | UInt32(byte & 0x3F)
        }
        guard value >= minimum, value <= 0x10FFFF, !(0xD800...0xDFFF).contains(value) else { return nil }
        return length
    }
}

/// Protobuf's wire format, enough to read a ModelProto: fields, varints,
/// fixed 32-bit values and length-delimited bytes, every length checked
/// against what is left.
struct ProtobufReader {
    enum Malformed: Error, CustomStringConvertible {
        case truncated, varint, wireType(Int), text, enumeration, unsupported(String)

        var description: String {
            switch self {
            case .truncated: return "it ends inside a field"
            case .varint: return "a varint longer than 10 bytes"
            case let .wireType(type): return "wire type \(type)"
            case .text: return "a piece that is not UTF-8"
            case .enumeration: return "an unknown piece type"
            case let .unsupported(what): return "\(what) is not supported"
            }
        }
    }

    private var bytes: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
    }

    /// The next field's number and wire type; nil at the end.
    mutating func nextField() throws(Malformed) -> (Int, Int)? {
        guard !bytes.isEmpty else { return nil }
        let key = try varint()
        return (Int(truncatingIfNeeded: key >> 3), Int(key & 7))
    }

    mutating func varint() throws(Malformed) -> UInt64 {
        var value: UInt64 = 0
        for shift in stride(from: 0, to: 70, by: 7) {
            guard let byte = bytes.first else { throw .truncated }
            bytes = bytes.dropFirst()
            value |= UInt64(byte & 0x7F) << UInt64(shift)
            if byte & 0x80 == 0 { return value }
        }
        throw .varint
    }

    mutating func fixed32() throws(Malformed) -> UInt32 {
        guard bytes.count >= 4 else { throw .truncated }
        let start = bytes.startIndex
        defer { bytes = bytes.dropFirst(4) }
        return UInt32(bytes[start]) | UInt32(bytes[start + 1]) << 8 | UInt32(bytes[start + 2]) << 16 | UInt32(bytes[start + 3]) << 24
    }

    mutating func lengthDelimited() throws(Malformed) -> ArraySlice<UInt8> {
        let length = try varint()
        guard length <= UInt64(bytes.count) else { throw .truncated }
        defer { bytes = bytes.dropFirst(Int(length)) }
        return bytes.prefix(Int(length))
    }

    mutating func skip(_ wire: Int) throws(Malformed) {
        switch wire {
        case 0: _ = try varint()
        case 1:
            guard bytes.count >= 8 else { throw .truncated }
            bytes = bytes.dropFirst(8)
        case 2: _ = try lengthDelimited()
        case 5: _ = try fixed32()
        default: throw .wireType(wire)
        }
    }
}

/// SigLIP's tokenizer as transformers' `SiglipTokenizer` runs it: the text
/// with "▁" in front is cut at the special tokens (which take the white space
/// beside them), each part cleaned as `canonicalize_text` does (lower-cased
/// as Python does, ASCII punctuation removed, white space runs made one space
/// and stripped) and encoded as `<unk>` + part with the pieces of `<unk>`
/// dropped, `</s>` appended unless already last, cut to the context length
/// and padded with the padding id.
public struct SiglipTokenizer: TextTokenizer {
    let model: SentencePieceModel
    /// Special tokens by text: `</s>`, `<unk>`, the padding token, any others.
    let specials: [(text: String, id: Int)]
    let endId: Int
    let padId: Int
    let lowercase: Bool
    public let contextLength: Int
    public var vocabularySize: Int { model.pieces.count }
    /// How many pieces `<unk>` alone encodes to (dropped from each part).
    private let unknownPrefixLength: Int

    init(model: SentencePieceModel, specials: [String], end: String, pad: String, lowercase: Bool, contextLength: Int,
         path: String) throws(CLIPError) {
        self.model = model
        var known: [(String, Int)] = []
        for text in specials where !text.isEmpty {
            guard let id = model.id(of: text) else { throw .invalidVocabulary(path: path, reason: "the special token \(text) is not one of its pieces") }
            known.append((text, id))
        }
        guard let endId = model.id(of: end), let padId = model.id(of: pad) else {
            throw .invalidVocabulary(path: path, reason: "\(end) or \(pad) is not one of its pieces")
        }
        guard contextLength > 1 else { throw .invalidVocabulary(path: path, reason: "a context of \(contextLength) positions") }
        self.specials = known.sorted { $0.0.count > $1.0.count }
        self.endId = endId
        self.padId = padId
        self.lowercase = lowercase
        self.contextLength = contextLength
        unknownPrefixLength = model.encode(model.pieces[model.unknownId]).count
    }

    public func tokenize(_ text: String) -> [Int] {
        var ids = encode(text)
        if ids.count > contextLength - 1 { ids.removeLast(ids.count - (contextLength - 1)) }
        if ids.last != endId { ids.append(endId) }
        return ids + Array(repeating: padId, count: contextLength - ids.count)
    }

    /// The ids before framing: `SiglipTokenizer.tokenize`, then each token's id.
    func encode(_ text: String) -> [Int] {
        guard !text.isEmpty else { return [] }
        var parts = split("\u{2581}" + text.replacingOccurrences(of: "\u{2581}", with: " "))
        // A special token takes the white space beside it (lstrip, rstrip).
        for index in parts.indices where parts[index].special != nil {
            if index > 0, parts[index - 1].special == nil { parts[index - 1].text = PythonText.stripped(parts[index - 1].text, leading: false) }
            if index + 1 < parts.count, parts[index + 1].special == nil { parts[index + 1].text = PythonText.stripped(parts[index + 1].text, trailing: false) }
        }
        var ids: [Int] = [], secondIsSpecial = false
        for part in parts {
            if let id = part.special {
                if ids.count == 1 { secondIsSpecial = true }
                ids.append(id)
                continue
            }
            guard !part.text.isEmpty else { continue }
            let pieces = model.encode(model.pieces[model.unknownId] + canonical(part.text))
            let kept = pieces.count >= unknownPrefixLength ? Array(pieces.dropFirst(unknownPrefixLength)) : pieces
            ids += kept
        }
        // "▁" alone before a special token of the text is dropped (not
        // before an unknown character: its token is the character itself).
        if secondIsSpecial, model.pieces[ids[0]] == "\u{2581}" { ids.removeFirst() }
        return ids
    }

    /// `canonicalize_text`: lower-cased, ASCII punctuation removed, white
    /// space runs one space, stripped.
    func canonical(_ text: String) -> String {
        var scalars = Array(text.unicodeScalars)
        if lowercase { scalars = PythonText.lowercased(scalars) }
        scalars.removeAll { $0.isASCII && PythonText.punctuation.contains(UInt8($0.value)) }
        var collapsed: [Unicode.Scalar] = []
        for scalar in scalars {
            if PythonText.isSpace(scalar) {
                if collapsed.last != " " { collapsed.append(" ") }
            } else {
                collapsed.append(scalar)
            }
        }
        return PythonText.stripped(String(String.UnicodeScalarView(collapsed)))
    }

    /// The text cut at the special tokens, leftmost first, the longest where
    /// several start at one place.
    private func split(_ text: String) -> [(text: String, special: Int?)] {
        var parts: [(text: String, special: Int?)] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            var found: (range: Range<Substring.Index>, id: Int)?
            for special in specials {
                if let range = rest.range(of: special.text), found.map({ range.lowerBound < $0.range.lowerBound }) ?? true {
                    found = (range, special.id)
                }
            }
            guard let found else { break }
            parts.append((String(rest[..<found.range.lowerBound]), nil))
            parts.append(("", found.id))
            rest = rest[found.range.upperBound...]
        }
        parts.append((String(rest), nil))
        return parts
    }
}

/// Python's str methods, as transformers' tokenizers call them.
enum PythonText {
    /// string.punctuation.
    static let punctuation = Set(Array("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".utf8))

    /// str.isspace: White_Space, and the separators U+001C–U+001F.
    static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isWhitespace || (0x1C...0x1F).contains(scalar.value)
    }

    static func stripped(_ text: String, leading: Bool = true, trailing: Bool = true) -> String {
        var scalars = Substring(text).unicodeScalars[...]
        if leading { while let first = scalars.first, isSpace(first) { scalars = scalars.dropFirst() } }
        if trailing { while let last = scalars.last, isSpace(last) { scalars = scalars.dropLast() } }
        return String(String.UnicodeScalarView(scalars))
    }

    /// str.lower: each character's full lower-case mapping, and Σ as ς at
    /// the end of a word (after a cased letter, case-ignorable ones skipped,
    /// and not before one).
    static func lowercased(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var result: [Unicode.Scalar] = []
        result.reserveCapacity(scalars.count)
        for (index, scalar) in scalars.enumerated() {
            if scalar.value == 0x03A3 {
                var before = index - 1
                while before >= 0, scalars[before].properties.isCaseIgnorable { before -= 1 }
                var final = before >= 0 && scalars[before].properties.isCased
                if final {
                    var after = index + 1
                    while after < scalars.count, scalars[after].properties.isCaseIgnorable { after += 1 }
                    final = after == scalars.count || !scalars[after].properties.isCased
                }
                result.append(final ? "\u{03C2}" : "\u{03C3}")
                continue
            }
            result += scalar.properties.lowercaseMapping.unicodeScalars
        }
        return result
    }
}

/// What the fuzzers reach that the public API does not: reading a
/// spiece.model and encoding with it. Imported with `@_spi(Fuzzing) import`.
@_spi(Fuzzing)
public enum SentencePieceProbe {
    /// Reads `bytes` as a spiece.model; when it is accepted, encodes `text`
    /// with it (normalising and segmenting). The ids, or nil when refused.
    public static func encode(model bytes: [UInt8], text: String) -> [Int]? {
        guard let model = try? SentencePieceModel(bytes: bytes, path: "(fuzzed)") else { return nil }
        let ids = model.encode(text)
        precondition(ids.allSatisfy { $0 >= 0 && $0 < model.pieces.count })
        return ids
    }
}
