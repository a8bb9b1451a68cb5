/// Explains why JSONDecoder refused a document it calls "not valid JSON":
/// Swift's decoder says the same for a syntax error and for a number it
/// cannot represent (2^64 + 5, 1e400), and names no position. This scanner
/// follows RFC 8259's grammar and returns the first problem with its byte
/// offset, or nil when the text is valid JSON whose numbers all fit.
struct JSONSyntax {
    private let bytes: [UInt8]
    private var offset = 0
    private static let maximumDepth = 512
    /// Where the scanner is ("vision_cfg", "layers", "[2]"), and the numbers
    /// with a fraction or an exponent it met, with their field.
    private var path: [String] = []
    private var fractions: [(field: String, range: Range<Int>)] = []

    private struct Problem: Error {
        let message: String
    }

    static func firstProblem(in bytes: [UInt8]) -> String? {
        var scanner = JSONSyntax(bytes: bytes)
        do throws(Problem) {
            scanner.skipSpace()
            try scanner.value(depth: 0)
            scanner.skipSpace()
            guard scanner.offset == bytes.count else { throw Problem(message: "not valid JSON: unexpected text at byte \(scanner.offset)") }
            return nil
        } catch {
            return error.message
        }
    }

    /// The numbers with a fraction or an exponent ("24.5", "1e3") in a valid
    /// document, with their fields ("vision_cfg.width"): Swift's decoder
    /// calls a document "not valid JSON" when one of them is where a whole
    /// number belongs.
    static func fractionalNumbers(in bytes: [UInt8]) -> [(field: String, range: Range<Int>)] {
        var scanner = JSONSyntax(bytes: bytes)
        scanner.skipSpace()
        guard (try? scanner.value(depth: 0)) != nil else { return [] }
        return scanner.fractions
    }

    private init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    private var current: UInt8? { offset < bytes.count ? bytes[offset] : nil }

    private func problem(_ what: String) -> Problem {
        Problem(message: offset < bytes.count ? "not valid JSON: \(what) at byte \(offset)" : "not valid JSON: the text ends early")
    }

    private mutating func skipSpace() {
        while let byte = current, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { offset += 1 }
    }

    private mutating func expect(_ byte: UInt8) throws(Problem) {
        guard current == byte else { throw problem("expected '\(Character(Unicode.Scalar(byte)))'") }
        offset += 1
    }

    private mutating func value(depth: Int) throws(Problem) {
        guard depth < Self.maximumDepth else { throw problem("nesting deeper than \(Self.maximumDepth)") }
        switch current {
        case UInt8(ascii: "{"):
            offset += 1
            skipSpace()
            if current == UInt8(ascii: "}") { offset += 1; return }
            while true {
                skipSpace()
                let keyStart = offset + 1
                try string()
                path.append(String(decoding: bytes[keyStart..<max(keyStart, offset - 1)], as: UTF8.self))
                skipSpace()
                try expect(UInt8(ascii: ":"))
                skipSpace()
                try value(depth: depth + 1)
                path.removeLast()
                skipSpace()
                if current == UInt8(ascii: ",") { offset += 1; continue }
                try expect(UInt8(ascii: "}"))
                return
            }
        case UInt8(ascii: "["):
            offset += 1
            skipSpace()
            if current == UInt8(ascii: "]") { offset += 1; return }
            var index = 0
            while true {
                skipSpace()
                path.append("[\(index)]")
                try value(depth: depth + 1)
                path.removeLast()
                index += 1
                skipSpace()
                if current == UInt8(ascii: ",") { offset += 1; continue }
                try expect(UInt8(ascii: "]"))
                return
            }
        case UInt8(ascii: "\""):
            try string()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case let byte? where byte == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte):
            try number()
        default:
            throw problem("expected a value")
        }
    }

    private mutating func literal(_ word: String) throws(Problem) {
        for byte in word.utf8 { try expect(byte) }
    }

    private mutating func string() throws(Problem) {
        try expect(UInt8(ascii: "\""))
        while let byte = current {
            offset += 1
            switch byte {
            case UInt8(ascii: "\""):
                return
            case UInt8(ascii: "\\"):
                guard let escaped = current else { throw problem("an unfinished escape") }
                offset += 1
                if escaped == UInt8(ascii: "u") {
                    for _ in 0..<4 {
                        guard let digit = current, Character(Unicode.Scalar(digit)).isHexDigit else { throw problem("a bad \\u escape") }
                        offset += 1
                    }
                } else if !"\"\\/bfnrt".utf8.contains(escaped) {
                    offset -= 1
                    throw problem("an unknown escape")
                }
            case 0..<0x20:
                offset -= 1
                throw problem("a control character in a string")
            default:
                continue
            }
        }
        throw problem("an unterminated string")
    }

    private mutating func number() throws(Problem) {
        let start = offset
        if current == UInt8(ascii: "-") { offset += 1 }
        func digits(_ scanner: inout JSONSyntax) -> Int {
            var count = 0
            while let byte = scanner.current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { scanner.offset += 1; count += 1 }
            return count
        }
        guard digits(&self) > 0 else { throw problem("a number without digits") }
        var integral = true
        if current == UInt8(ascii: ".") {
            offset += 1
            integral = false
            guard digits(&self) > 0 else { throw problem("a number without digits after '.'") }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            offset += 1
            integral = false
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { offset += 1 }
            guard digits(&self) > 0 else { throw problem("a number without an exponent") }
        }
        let text = String(decoding: bytes[start..<offset], as: UTF8.self)
        let fits = integral ? Int64(text) != nil : (Double(text)?.isFinite ?? false)
        guard fits else {
            let field = path.isEmpty ? "" : " (field \(path.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")))"
            throw Problem(message: "the number \(text) at byte \(start)\(field) is out of range")
        }
        if !integral { fractions.append((path.joined(separator: ".").replacingOccurrences(of: ".[", with: "["), start..<offset)) }
    }
}
