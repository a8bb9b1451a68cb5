/// Character tables of the cleaning and pre-tokenizing steps, parsed once from
/// the generated `UnicodeTables`.
enum CharacterClasses {
    static let ligatures = parseMap(UnicodeTables.ligatures)
    static let widthMap = parseMap(UnicodeTables.widthMap)
    static let c1Controls = parseMap(UnicodeTables.c1Controls)

    static func isPythonWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        contains(UnicodeTables.pythonWhitespace, scalar.value)
    }

    /// The `regex` module's \s.
    static func isRegexWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        contains(UnicodeTables.regexWhitespace, scalar.value)
    }

    static func isFTFYControl(_ scalar: Unicode.Scalar) -> Bool {
        contains(UnicodeTables.controlCharacters, scalar.value)
    }

    /// A character's full lowercase mapping, on its own (no context: Σ is σ),
    /// appended to `output`: Python's and Rust's per-character lowering.
    static func appendLowercased(_ scalar: Unicode.Scalar, to output: inout String.UnicodeScalarView) {
        if scalar.isASCII {
            output.append(("A"..."Z").contains(scalar) ? Unicode.Scalar(UInt8(scalar.value) | 0x20) : scalar)
        } else {
            output.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
        }
    }

    /// \p{L}: general category Lu, Ll, Lt, Lm or Lo.
    static func isLetter(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            let value = scalar.value | 0x20
            return value >= 0x61 && value <= 0x7A
        }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    /// \p{N}: general category Nd, Nl or No.
    static func isNumber(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII { return scalar.value >= 0x30 && scalar.value <= 0x39 }
        switch scalar.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    static func contains(_ ranges: [ClosedRange<UInt32>], _ value: UInt32) -> Bool {
        for range in ranges where range.contains(value) { return true }
        return false
    }

    /// Parses "key<TAB>hex hex…" lines into key → scalars.
    static func parseLines(_ table: String) -> [(key: Substring, value: [Unicode.Scalar])] {
        table.split(separator: "\n").map { line in
            let parts = line.split(separator: "\t", maxSplits: 1)
            let scalars = parts.count > 1
                ? parts[1].split(separator: " ").map { Unicode.Scalar(UInt32($0, radix: 16)!)! }
                : []
            return (parts[0], scalars)
        }
    }

    static func parseMap(_ table: String) -> [UInt32: [Unicode.Scalar]] {
        var map: [UInt32: [Unicode.Scalar]] = [:]
        for (key, value) in parseLines(table) { map[UInt32(key, radix: 16)!] = value }
        return map
    }
}
