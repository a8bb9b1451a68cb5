/// CLIP's tokenizer (open_clip SimpleTokenizer, transformers CLIPTokenizer):
/// clean → split into words → bytes to characters → BPE → ids, framed by the
/// start and end-of-text tokens and cut to the context length.
public struct CLIPTokenizer: Sendable {
    let vocabulary: Vocabulary
    let preTokenizer: PreTokenizer
    let encoder: BytePairEncoder
    public let contextLength: Int
    /// How text is cleaned before the pieces are found.
    var cleaning = Cleaning.openCLIP

    enum Cleaning: Sendable {
        /// open_clip's SimpleTokenizer ("lower"): Python's str.lower().
        case openCLIP
        /// open_clip's HFTokenizer over CLIP's Hugging Face tokenizer
        /// ("whitespace" cleaning, then the tokenizer's normaliser: NFC and
        /// a lowercasing without Python's final sigma).
        case huggingFace
    }

    init(vocabulary: Vocabulary, contextLength: Int) {
        self.vocabulary = vocabulary
        self.contextLength = contextLength
        preTokenizer = PreTokenizer(specialTokens: [vocabulary.startOfText, vocabulary.endOfText])
        encoder = BytePairEncoder(vocabulary: vocabulary)
    }

    /// The tokenizer with OpenAI's vocabulary, as open_clip ships it.
    public static func standard(contextLength: Int = 77) throws(CLIPError) -> CLIPTokenizer {
        CLIPTokenizer(vocabulary: try Vocabulary.standard(), contextLength: contextLength)
    }

    public var startOfTextId: Int { vocabulary.startId }
    public var endOfTextId: Int { vocabulary.endId }
    public var vocabularySize: Int { vocabulary.size }

    /// The BPE ids of `text`, without start/end tokens or truncation
    /// (SimpleTokenizer.encode).
    public func encode(_ text: String) -> [Int] {
        var ids: [Int] = []
        let special = [vocabulary.startOfText.lowercased(): vocabulary.startId, vocabulary.endOfText.lowercased(): vocabulary.endId]
        let cleaned = cleaning == .openCLIP ? TextCleaner.clean(text) : TextCleaner.cleanForHuggingFaceCLIP(text)
        for word in preTokenizer.split(cleaned) {
            if let id = special[word] {
                ids.append(id)
                continue
            }
            ids += encoder.encode(word).map(Int.init)
        }
        return ids
    }

    /// [start] + encode(text) + [end], cut to the context length with the end
    /// token kept last; unpadded (SimpleTokenizer.__call__ pads with 0s).
    public func tokenize(_ text: String) -> [Int] {
        var ids = [vocabulary.startId] + encode(text) + [vocabulary.endId]
        if ids.count > contextLength {
            ids.removeLast(ids.count - contextLength)
            ids[contextLength - 1] = vocabulary.endId
        }
        return ids
    }
}
