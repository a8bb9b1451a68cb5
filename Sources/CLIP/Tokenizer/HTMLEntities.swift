/// HTML entity decoding as open_clip's cleaning does it: ftfy's cautious
/// `unescape_html` (only `&name;` with the semicolon, plus some all-caps names)
/// and Python's `html.unescape` (Lib/html/__init__.py, HTML5 rules: numeric
/// references, longest-prefix matching of legacy names without ';').
enum HTMLEntities {
    /// html.entities.html5, keyed by name without '&' (some names end in ';').
    static let html5: [String: [Unicode.Scalar]] = {
        var table: [String: [Unicode.Scalar]] = [:]
        for (key, value) in CharacterClasses.parseLines(UnicodeTables.html5Entities) { table[String(key)] = value }
        return table
    }()

    /// ftfy's HTML_ENTITIES: html5 names ending in ';' plus all-caps variants.
    static let ftfy: [String: [Unicode.Scalar]] = {
        var table = html5.filter { $0.key.hasSuffix(";") }
        for (key, value) in CharacterClasses.parseLines(UnicodeTables.ftfyUppercaseEntities) { table[String(key)] = value }
        return table
    }()

    static let invalidReferences: [UInt32: [Unicode.Scalar]] = CharacterClasses.parseMap(UnicodeTables.invalidCharacterReferences)

    private static func isASCIIAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCII && (CharacterClasses.isLetter(scalar) || CharacterClasses.isNumber(scalar))
    }

    private static func isHexDigit(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCII && scalar.properties.isASCIIHexDigit
    }

    /// ftfy.fixes.unescape_html: replaces matches of `&#?[0-9A-Za-z]{1,24};`
    /// that name a known entity (or decode fully as a numeric reference).
    static func ftfyUnescape(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard scalars.contains("&") else { return scalars }
        var result: [Unicode.Scalar] = []
        var index = 0
        while index < scalars.count {
            guard scalars[index] == "&" else {
                result.append(scalars[index])
                index += 1
                continue
            }
            var end = index + 1
            if end < scalars.count, scalars[end] == "#" { end += 1 }
            let nameStart = end
            while end < scalars.count, end - nameStart < 24, isASCIIAlphanumeric(scalars[end]) { end += 1 }
            guard end > nameStart, end < scalars.count, scalars[end] == ";" else {
                // No match here; with '#' optional the regex also tries without it,
                // but "#" is not alphanumeric, so that attempt cannot match either.
                result.append("&")
                index += 1
                continue
            }
            let match = Array(scalars[index...end])
            let name = String(String.UnicodeScalarView(match.dropFirst()))
            if let value = ftfy[name] {
                result += value
            } else if match.count > 1, match[1] == "#" {
                let decoded = pythonUnescape(match)
                result += decoded.contains(";") ? match : decoded
            } else {
                result += match
            }
            index = end + 1
        }
        return result
    }

    /// Python's html.unescape.
    static func pythonUnescape(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard scalars.contains("&") else { return scalars }
        var result: [Unicode.Scalar] = []
        result.reserveCapacity(scalars.count)
        var index = 0
        while index < scalars.count {
            guard scalars[index] == "&", index + 1 < scalars.count else {
                result.append(scalars[index])
                index += 1
                continue
            }
            if let (replacement, next) = numericReference(scalars, at: index + 1) ?? namedReference(scalars, at: index + 1) {
                result += replacement
                index = next
            } else {
                result.append("&")
                index += 1
            }
        }
        return result
    }

    /// `#[0-9]+;?` or `#[xX][0-9a-fA-F]+;?` starting at `start`.
    private static func numericReference(_ scalars: [Unicode.Scalar], at start: Int) -> ([Unicode.Scalar], Int)? {
        guard scalars[start] == "#", start + 1 < scalars.count else { return nil }
        var index = start + 1
        var radix: UInt32 = 10
        if scalars[index] == "x" || scalars[index] == "X" {
            radix = 16
            index += 1
        }
        let digitsStart = index
        var value: UInt32 = 0
        var overflow = false
        while index < scalars.count,
              radix == 16 ? isHexDigit(scalars[index]) : (scalars[index].isASCII && CharacterClasses.isNumber(scalars[index])) {
            let digit = UInt32(String(scalars[index]), radix: 16)!
            let (product, overflowed) = value.multipliedReportingOverflow(by: radix)
            if overflowed || product > 0x1_000_000 { overflow = true } else { value = product + digit }
            index += 1
        }
        guard index > digitsStart else { return nil }
        if index < scalars.count, scalars[index] == ";" { index += 1 }
        if overflow { value = 0x110000 }
        if let replacement = invalidReferences[value] { return (replacement, index) }
        if (0xD800...0xDFFF).contains(value) || value > 0x10FFFF { return (["\u{FFFD}"], index) }
        if CharacterClasses.contains(UnicodeTables.invalidCodePoints, value) { return ([], index) }
        return ([Unicode.Scalar(value)!], index)
    }

    /// `[^\t\n\f <&#;]{1,32};?` starting at `start`, resolved by the HTML5
    /// rules: the whole name, else its longest known prefix (legacy names
    /// such as "amp" may omit the semicolon), else left alone.
    private static func namedReference(_ scalars: [Unicode.Scalar], at start: Int) -> ([Unicode.Scalar], Int)? {
        var index = start
        while index < scalars.count, index - start < 32 {
            switch scalars[index] {
            case "\t", "\n", "\u{0C}", " ", "<", "&", "#", ";": break
            default: index += 1; continue
            }
            break
        }
        guard index > start else { return nil }
        if index < scalars.count, scalars[index] == ";" { index += 1 }
        let name = Array(scalars[start..<index])
        if let value = html5[String(String.UnicodeScalarView(name))] { return (value, index) }
        var length = name.count - 1
        while length > 1 {
            if let value = html5[String(String.UnicodeScalarView(name[0..<length]))] {
                return (value + name[length...], index)
            }
            length -= 1
        }
        return (["&"] + name, index)
    }
}
