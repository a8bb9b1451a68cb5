import Foundation

/// open_clip's text cleaning for its "lower" mode (open_clip/tokenizer.py
/// `_clean_lower`): ftfy.fix_text, html.unescape twice, strip, collapse
/// whitespace, lowercase; and for its "canonicalize" mode.
///
/// Of ftfy.fix_text, every deterministic step is reproduced (entity decoding,
/// C1 controls as Windows-1252, Latin ligatures, character width, curly
/// quotes, terminal escapes, control characters, NFC). Its mojibake repair
/// (`fix_encoding`), a statistical guess, is not: text that is already valid
/// Unicode, which is what a search box produces, passes through it unchanged.
enum TextCleaner {
    static func clean(_ text: String) -> String {
        pythonLowercased(collapsingWhitespace(basicClean(text)))
    }

    /// open_clip's "whitespace" mode (basic_clean, whitespace collapsed),
    /// then what CLIP's Hugging Face tokenizer's normaliser does: NFC,
    /// whitespace runs as one space, each character lowercased on its own
    /// (the tokenizers library's Lowercase: Σ is always σ, never Python's
    /// final ς).
    static func cleanForHuggingFaceCLIP(_ text: String) -> String {
        let composed = String(String.UnicodeScalarView(collapsingWhitespace(basicClean(text)))).precomposedStringWithCanonicalMapping
        var result = String.UnicodeScalarView()
        for scalar in composed.unicodeScalars { CharacterClasses.appendLowercased(scalar, to: &result) }
        return String(result)
    }

    /// open_clip's "canonicalize" mode (`_clean_canonicalize`, the cleaning
    /// of its SigLIP models, after big_vision): basic_clean, then "_" as a
    /// space, ASCII punctuation (Python's string.punctuation) removed,
    /// lowercase, whitespace collapsed.
    static func canonicalize(_ text: String) -> String {
        let kept = basicClean(text).compactMap { scalar -> Unicode.Scalar? in
            if scalar == "_" { return " " }
            return scalar.isASCIIPunctuation ? nil : scalar
        }
        return pythonLowercased(collapsingWhitespace(kept))
    }

    /// ftfy.fix_text, then html.unescape twice (basic_clean; its strip()
    /// is done by the whitespace collapsing that always follows).
    private static func basicClean(_ text: String) -> [Unicode.Scalar] {
        HTMLEntities.pythonUnescape(HTMLEntities.pythonUnescape(Array(fixText(text).unicodeScalars)))
    }

    /// str.split() then " ".join(...): runs of whitespace become one space,
    /// none at either end.
    private static func collapsingWhitespace(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var collapsed: [Unicode.Scalar] = []
        collapsed.reserveCapacity(scalars.count)
        var pendingSpace = false
        for scalar in scalars {
            if CharacterClasses.isPythonWhitespace(scalar) {
                pendingSpace = !collapsed.isEmpty
            } else {
                if pendingSpace { collapsed.append(" ") }
                pendingSpace = false
                collapsed.append(scalar)
            }
        }
        return collapsed
    }

    /// Python's str.lower(): each character's full lowercase mapping, and
    /// capital sigma as final sigma (ς) at the end of a word
    /// (Objects/unicodeobject.c handle_capital_sigma), which Swift's
    /// lowercased() does not do.
    static func pythonLowercased(_ scalars: [Unicode.Scalar]) -> String {
        var result = ""
        result.unicodeScalars.reserveCapacity(scalars.count)
        for (index, scalar) in scalars.enumerated() {
            if scalar.value == 0x03A3 {
                result.unicodeScalars.append(isFinalSigma(scalars, at: index) ? "\u{03C2}" : "\u{03C3}")
            } else {
                CharacterClasses.appendLowercased(scalar, to: &result.unicodeScalars)
            }
        }
        return result
    }

    /// \p{cased} \p{case-ignorable}* Σ !(\p{case-ignorable}* \p{cased})
    private static func isFinalSigma(_ scalars: [Unicode.Scalar], at index: Int) -> Bool {
        var before = index - 1
        while before >= 0, scalars[before].properties.isCaseIgnorable { before -= 1 }
        guard before >= 0, scalars[before].properties.isCased else { return false }
        var after = index + 1
        while after < scalars.count, scalars[after].properties.isCaseIgnorable { after += 1 }
        return after == scalars.count || !scalars[after].properties.isCased
    }

    /// ftfy.fix_text with its default configuration, minus fix_encoding.
    static func fixText(_ text: String) -> String {
        var output = ""
        var unescapes = true
        // fix_text works line by line; once a line contains "<" it assumes
        // HTML and stops decoding entities for the rest of the text.
        for segment in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var scalars = Array(segment.element)
            if segment.offset > 0 { output.unicodeScalars.append("\n") }
            if scalars.contains("<") { unescapes = false }
            while true {
                let original = scalars
                if unescapes { scalars = HTMLEntities.ftfyUnescape(scalars) }
                scalars = fixC1Controls(scalars)
                scalars = translate(scalars, CharacterClasses.ligatures)
                scalars = translate(scalars, CharacterClasses.widthMap)
                scalars = uncurlQuotes(scalars)
                scalars = fixLineBreaks(scalars)
                scalars = removeTerminalEscapes(scalars)
                scalars = scalars.filter { !CharacterClasses.isFTFYControl($0) }
                scalars = Array(String(String.UnicodeScalarView(scalars)).precomposedStringWithCanonicalMapping.unicodeScalars)
                if scalars == original { break }
            }
            output.unicodeScalars.append(contentsOf: scalars)
        }
        return output
    }

    private static func translate(_ scalars: [Unicode.Scalar], _ table: [UInt32: [Unicode.Scalar]]) -> [Unicode.Scalar] {
        var result: [Unicode.Scalar] = []
        result.reserveCapacity(scalars.count)
        for scalar in scalars {
            if let replacement = table[scalar.value] { result += replacement } else { result.append(scalar) }
        }
        return result
    }

    private static func fixC1Controls(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        translate(scalars, CharacterClasses.c1Controls)
    }

    /// ftfy.uncurl_quotes: [\u02bc\u2018-\u201b] → ', [\u201c-\u201f] → ".
    private static func uncurlQuotes(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        scalars.map { scalar in
            switch scalar.value {
            case 0x02BC, 0x2018...0x201B: return "'"
            case 0x201C...0x201F: return "\""
            default: return scalar
            }
        }
    }

    /// ftfy.fix_line_breaks: \r\n, \r, U+2028, U+2029 and U+0085 become \n.
    private static func fixLineBreaks(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var result: [Unicode.Scalar] = []
        result.reserveCapacity(scalars.count)
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            switch scalar.value {
            case 0x0D:
                result.append("\n")
                if index + 1 < scalars.count, scalars[index + 1] == "\n" { index += 1 }
            case 0x2028, 0x2029, 0x85:
                result.append("\n")
            default:
                result.append(scalar)
            }
            index += 1
        }
        return result
    }

    /// ftfy.remove_terminal_escapes: ESC [ (digits and ;)* letter.
    private static func removeTerminalEscapes(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard scalars.contains("\u{1B}") else { return scalars }
        var result: [Unicode.Scalar] = []
        var index = 0
        while index < scalars.count {
            if scalars[index] == "\u{1B}", index + 1 < scalars.count, scalars[index + 1] == "[" {
                var end = index + 2
                while end < scalars.count, scalars[end] == ";" || ("0"..."9").contains(scalars[end]) { end += 1 }
                if end < scalars.count, scalars[end].isASCII, scalars[end].properties.isAlphabetic {
                    index = end + 1
                    continue
                }
            }
            result.append(scalars[index])
            index += 1
        }
        return result
    }
}

private extension Unicode.Scalar {
    /// Whether it is in Python's string.punctuation: every printable ASCII
    /// character that is neither a letter, a digit nor a space.
    var isASCIIPunctuation: Bool {
        switch value {
        case 0x21...0x2F, 0x3A...0x40, 0x5B...0x60, 0x7B...0x7E: return true
        default: return false
        }
    }
}
