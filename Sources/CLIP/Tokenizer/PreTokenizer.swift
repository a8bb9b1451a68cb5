/// Splits cleaned text into words the way CLIP's regular expression does
/// (open_clip/tokenizer.py SimpleTokenizer.pat, with re.IGNORECASE):
///
///     <special>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
///
/// Alternatives are tried in that order at each position; characters no
/// alternative matches (whitespace) are skipped, as re.findall skips them.
struct PreTokenizer: Sendable {
    /// Literal special tokens recognised in the text, e.g. "<end_of_text>".
    let specialTokens: [[Unicode.Scalar]]

    private static let contractions: [[Unicode.Scalar]] = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"].map { Array($0.unicodeScalars) }

    init(specialTokens: [String]) {
        self.specialTokens = specialTokens.map { Array($0.lowercased().unicodeScalars) }
    }

    func split(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        var words: [String] = []
        var index = 0
        func lowered(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
            scalar.isASCII ? Unicode.Scalar(UInt8(scalar.value) | (CharacterClasses.isLetter(scalar) ? 0x20 : 0)) : scalar
        }
        func matches(_ literal: [Unicode.Scalar], at position: Int) -> Bool {
            guard position + literal.count <= scalars.count else { return false }
            for offset in 0..<literal.count where lowered(scalars[position + offset]) != literal[offset] { return false }
            return true
        }
        func emit(_ range: Range<Int>) {
            words.append(String(String.UnicodeScalarView(scalars[range])))
        }
        scanning: while index < scalars.count {
            for literal in specialTokens + Self.contractions where matches(literal, at: index) {
                emit(index..<(index + literal.count))
                index += literal.count
                continue scanning
            }
            let scalar = scalars[index]
            if CharacterClasses.isLetter(scalar) {
                var end = index + 1
                while end < scalars.count, CharacterClasses.isLetter(scalars[end]) { end += 1 }
                emit(index..<end)
                index = end
            } else if CharacterClasses.isNumber(scalar) {
                emit(index..<(index + 1))
                index += 1
            } else if !CharacterClasses.isRegexWhitespace(scalar) {
                var end = index + 1
                while end < scalars.count, !CharacterClasses.isLetter(scalars[end]), !CharacterClasses.isNumber(scalars[end]),
                      !CharacterClasses.isRegexWhitespace(scalars[end]) { end += 1 }
                emit(index..<end)
                index = end
            } else {
                index += 1
            }
        }
        return words
    }
}
