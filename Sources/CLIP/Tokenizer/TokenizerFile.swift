import Foundation

/// tokenizer.json, the Hugging Face tokenizers library's serialisation, for
/// the kind of tokenizer SigLIP 2 (Gemma's) has: a BPE model over
/// characters with byte fallback, normalisers that replace, prepend and
/// lower-case, a `Split` pre-tokenizer, added tokens, and a template that
/// frames each text with special tokens. Anything else is refused by name
/// rather than tokenized differently from the library.
struct TokenizerFile: Decodable {
    struct AddedToken: Decodable {
        var id: Int
        var content: String
        var singleWord: Bool?
        var lstrip: Bool?
        var rstrip: Bool?
        var normalized: Bool?
        var special: Bool?

        enum CodingKeys: String, CodingKey {
            case id, content, singleWord = "single_word", lstrip, rstrip, normalized, special
        }
    }

    /// A normaliser, pre-tokenizer or post-processor: its type and fields.
    struct Component: Decodable {
        var type: String
        var fields: [String: LooseJSON]

        init(type: String, fields: [String: LooseJSON]) {
            self.type = type
            self.fields = fields
        }

        init(from decoder: Decoder) throws {
            fields = try decoder.singleValueContainer().decode([String: LooseJSON].self)
            guard case let .string(type)? = fields["type"] else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "a component without a type"))
            }
            self.type = type
        }
    }

    struct Model: Decodable {
        var type: String?
        var vocab: [String: Int]
        var merges: Merges
        var byteFallback: Bool?
        var fuseUnk: Bool?
        var unkToken: String?
        var ignoreMerges: Bool?
        var dropout: Double?
        var continuingSubwordPrefix: String?
        var endOfWordSuffix: String?

        enum CodingKeys: String, CodingKey {
            case type, vocab, merges, byteFallback = "byte_fallback", fuseUnk = "fuse_unk", unkToken = "unk_token"
            case ignoreMerges = "ignore_merges", dropout, continuingSubwordPrefix = "continuing_subword_prefix"
            case endOfWordSuffix = "end_of_word_suffix"
        }
    }

    /// Merges as "a b" strings (older files) or ["a", "b"] pairs.
    struct Merges: Decodable {
        var pairs: [(String, String)]

        init(from decoder: Decoder) throws {
            var container = try decoder.unkeyedContainer()
            pairs = []
            pairs.reserveCapacity(container.count ?? 0)
            while !container.isAtEnd {
                if let pair = try? container.decode([String].self) {
                    guard pair.count == 2 else {
                        throw DecodingError.dataCorrupted(.init(codingPath: container.codingPath, debugDescription: "a merge of \(pair.count) parts"))
                    }
                    pairs.append((pair[0], pair[1]))
                } else {
                    let line = try container.decode(String.self)
                    let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
                    guard parts.count == 2 else {
                        throw DecodingError.dataCorrupted(.init(codingPath: container.codingPath, debugDescription: "merge \"\(line)\" is not two pieces"))
                    }
                    pairs.append((String(parts[0]), String(parts[1])))
                }
            }
        }
    }

    var addedTokens: [AddedToken]?
    var normalizer: Component?
    var preTokenizer: Component?
    var postProcessor: Component?
    var model: Model

    enum CodingKeys: String, CodingKey {
        case addedTokens = "added_tokens", normalizer, preTokenizer = "pre_tokenizer", postProcessor = "post_processor", model
    }

    /// The tokenizer it describes, framed as `frame` says when
    /// tokenizer_config.json overrides the file's post-processor
    /// (transformers rebuilds it from add_bos_token / add_eos_token).
    func resolve(path: String, lowercase: Bool, frame: (bos: Bool, eos: Bool)?, specialTokens: [String: String],
                 contextLength: Int, padId: Int?) throws(CLIPError) -> GemmaTokenizer {
        func unsupported(_ reason: String) -> CLIPError { .unsupportedArchitecture(path: path, reason: "tokenizer: " + reason) }
        func invalid(_ reason: String) -> CLIPError { .invalidVocabulary(path: path, reason: reason) }

        // The model.
        if let type = model.type, type != "BPE" { throw unsupported("model type \(type) (only BPE is supported)") }
        if model.dropout != nil { throw unsupported("BPE dropout is set") }
        if model.ignoreMerges == true { throw unsupported("ignore_merges is set") }
        if let prefix = model.continuingSubwordPrefix, !prefix.isEmpty { throw unsupported("continuing_subword_prefix is set") }
        if let suffix = model.endOfWordSuffix, !suffix.isEmpty { throw unsupported("end_of_word_suffix is set") }
        var size = 0
        var characters: [UInt64: UInt64] = [:]
        for (piece, id) in model.vocab {
            guard id >= 0, id < Int(Int32.max) else { throw invalid("piece \(piece) has the id \(id)") }
            size = max(size, id + 1)
            let scalars = piece.unicodeScalars
            if scalars.count == 1 { characters[UInt64(scalars.first!.value)] = UInt64(id) }
        }
        var byteIDs: [Int32]?
        if model.byteFallback == true {
            var ids = [Int32](repeating: -1, count: 256)
            for byte in 0..<256 {
                if let id = model.vocab[Self.bytePiece(UInt8(byte))] { ids[byte] = Int32(id) }
            }
            byteIDs = ids
        }
        var merges: [UInt64: UInt64] = [:]
        merges.reserveCapacity(model.merges.pairs.count)
        for (rank, (first, second)) in model.merges.pairs.enumerated() {
            guard let a = model.vocab[first], let b = model.vocab[second] else {
                throw invalid("merge \(rank + 1) (\(first) \(second)) uses a piece that is not in the vocabulary")
            }
            guard let merged = model.vocab[first + second] else {
                throw invalid("merge \(rank + 1) makes \(first + second), which is not in the vocabulary")
            }
            merges[Vocabulary.key(Int32(a), Int32(b))] = UInt64(rank) << 32 | UInt64(merged)
        }
        let unknownId = try model.unkToken.map { token throws(CLIPError) in
            guard let id = model.vocab[token] else { throw invalid("the unknown token \(token) is not in the vocabulary") }
            return id
        }

        // Added tokens, normalisation, pre-tokenization.
        var added: [GemmaTokenizer.AddedToken] = []
        var idsByContent: [String: Int] = [:]
        for token in addedTokens ?? [] {
            guard token.id >= 0, token.id < Int(Int32.max), !token.content.isEmpty else { throw invalid("added token \(token.id) is empty or out of range") }
            if token.singleWord == true { throw unsupported("added token \(token.content) is single_word") }
            size = max(size, token.id + 1)
            idsByContent[token.content] = token.id
            added.append(GemmaTokenizer.AddedToken(content: token.content, id: token.id, normalized: token.normalized ?? !(token.special ?? false),
                                                   leftStrip: token.lstrip ?? false, rightStrip: token.rstrip ?? false))
        }
        var steps: [GemmaTokenizer.Normalization] = lowercase ? [.lowercase] : []
        if let normalizer { steps += try Self.normalizations(normalizer, unsupported: unsupported) }
        let split = try preTokenizer.map { component throws(CLIPError) in try Self.split(component, unsupported: unsupported) } ?? nil

        // The frame around each text.
        func id(of token: String) throws(CLIPError) -> Int {
            guard let id = idsByContent[token] ?? model.vocab[token] else { throw invalid("the special token \(token) is in neither the vocabulary nor the added tokens") }
            return id
        }
        var before: [Int] = [], after: [Int] = []
        if let frame {
            if frame.bos, let bos = specialTokens["bos_token"] { before = [try id(of: bos)] }
            if frame.eos, let eos = specialTokens["eos_token"] { after = [try id(of: eos)] }
        } else if let postProcessor {
            (before, after) = try Self.template(postProcessor, unsupported: unsupported, invalid: invalid)
        }
        guard before.count + after.count < contextLength else { throw invalid("its special tokens fill the \(contextLength) positions") }
        guard (before + after).allSatisfy({ $0 < size }) else { throw invalid("a special token's id is outside the vocabulary") }
        let padToken = specialTokens["pad_token"].flatMap { idsByContent[$0] ?? model.vocab[$0] }
        let definition = GemmaTokenizer.Definition(normalizations: steps, split: split, added: added, before: before, after: after,
                                                   unknownId: unknownId, fuseUnknown: model.fuseUnk ?? false, size: size,
                                                   padToken: padToken.flatMap { $0 < size ? $0 : nil })
        if let padId, padId >= size { throw invalid("the padding id \(padId) is outside its \(size) pieces") }
        return GemmaTokenizer(definition: definition, characters: MergeTable(characters), merges: MergeTable(merges),
                              byteIDs: byteIDs, contextLength: contextLength, padId: padId)
    }

    /// "<0x0A>": the piece byte fallback uses for a byte.
    static func bytePiece(_ byte: UInt8) -> String {
        let hex = String(byte, radix: 16, uppercase: true)
        return "<0x" + (hex.count == 1 ? "0" + hex : hex) + ">"
    }

    private static func normalizations(_ component: Component, unsupported: (String) -> CLIPError) throws(CLIPError) -> [GemmaTokenizer.Normalization] {
        switch component.type {
        case "Sequence":
            guard case let .array(items)? = component.fields["normalizers"] else { throw unsupported("a Sequence normalizer without normalizers") }
            var steps: [GemmaTokenizer.Normalization] = []
            for item in items { steps += try normalizations(try Self.component(item, unsupported: unsupported), unsupported: unsupported) }
            return steps
        case "Lowercase": return [.lowercase]
        case "NFC": return [.nfc]
        case "NFKC": return [.nfkc]
        case "NFD": return [.nfd]
        case "NFKD": return [.nfkd]
        case "Prepend":
            guard case let .string(text)? = component.fields["prepend"] else { throw unsupported("a Prepend normalizer without its text") }
            return [.prepend(text)]
        case "Replace":
            guard case let .object(pattern)? = component.fields["pattern"], case let .string(content)? = component.fields["content"] else {
                throw unsupported("a Replace normalizer without pattern and content")
            }
            guard case let .string(text)? = pattern["String"], !text.isEmpty else { throw unsupported("a Replace normalizer with a regular expression") }
            return [.replace(text, content)]
        case let other:
            throw unsupported("the \(other) normalizer")
        }
    }

    private static func component(_ value: LooseJSON, unsupported: (String) -> CLIPError) throws(CLIPError) -> Component {
        guard case let .object(fields) = value, case let .string(type)? = fields["type"] else { throw unsupported("a component without a type") }
        return Component(type: type, fields: fields)
    }

    private static func split(_ component: Component, unsupported: (String) -> CLIPError) throws(CLIPError) -> GemmaTokenizer.Split? {
        switch component.type {
        case "Sequence":
            guard case let .array(items)? = component.fields["pretokenizers"] else { throw unsupported("a Sequence pre-tokenizer without pretokenizers") }
            guard items.count <= 1 else { throw unsupported("a sequence of \(items.count) pre-tokenizers") }
            return try items.first.map { item throws(CLIPError) in try split(try Self.component(item, unsupported: unsupported), unsupported: unsupported) } ?? nil
        case "Split":
            guard case let .object(pattern)? = component.fields["pattern"], case let .string(text)? = pattern["String"], !text.isEmpty else {
                throw unsupported("a Split pre-tokenizer with a regular expression")
            }
            if case .bool(true)? = component.fields["invert"] { throw unsupported("an inverted Split pre-tokenizer") }
            guard case let .string(name)? = component.fields["behavior"], let behavior = GemmaTokenizer.Split.Behavior(rawValue: name) else {
                throw unsupported("a Split pre-tokenizer's behavior \(component.fields["behavior"].map { "\($0)" } ?? "none")")
            }
            return GemmaTokenizer.Split(pattern: text, behavior: behavior)
        case let other:
            throw unsupported("the \(other) pre-tokenizer")
        }
    }

    /// A TemplateProcessing post-processor's single-sequence template: the
    /// ids before and after the text.
    private static func template(_ component: Component, unsupported: (String) -> CLIPError,
                                 invalid: (String) -> CLIPError) throws(CLIPError) -> ([Int], [Int]) {
        guard component.type == "TemplateProcessing" else { throw unsupported("the \(component.type) post-processor") }
        guard case let .array(single)? = component.fields["single"], case let .object(specials)? = component.fields["special_tokens"] else {
            throw invalid("a TemplateProcessing post-processor without its single template or special tokens")
        }
        var before: [Int] = [], after: [Int] = [], seenSequence = false
        for piece in single {
            guard case let .object(fields) = piece else { throw invalid("a template piece that is not an object") }
            if fields["Sequence"] != nil {
                guard !seenSequence else { throw unsupported("a template with the sequence twice") }
                seenSequence = true
            } else if case let .object(special)? = fields["SpecialToken"], case let .string(name)? = special["id"],
                      case let .object(entry)? = specials[name], case let .array(ids)? = entry["ids"] {
                for id in ids {
                    guard case let .number(value) = id, value >= 0, value < Double(Int32.max), value == value.rounded() else {
                        throw invalid("special token \(name) has an id that is not a whole number")
                    }
                    if seenSequence { after.append(Int(value)) } else { before.append(Int(value)) }
                }
            } else {
                throw invalid("a template piece that is neither the sequence nor a known special token")
            }
        }
        guard seenSequence else { throw invalid("a template without the sequence") }
        return (before, after)
    }
}
