import FileAccess
import Foundation
import Imaging

/// A parsed search: terms, each text or an example image, with signed weights.
///
/// Grammar: terms joined by `+` and `-` (an operator starts a term: it follows
/// whitespace or opens the query), each optionally weighted `2:` or `0.5:`.
/// A term in quotes is always text; a bare term is an image when it names a
/// photo file (an image extension, or a path to an existing file), text
/// otherwise. Hyphens inside words ("well-lit") are text.
///
///     "dog" + "beach" - "people"        2:sunset + ./ref.jpg        a red car
public struct SearchQuery: Sendable, Equatable {
    /// The largest weight a term may have (a weight of 1e39 is infinite as
    /// a Float).
    public static let maximumWeight = 1000.0
    /// The longest query, in UTF-8 bytes: far past what a text tower reads
    /// (77 tokens), short enough that parsing a stranger's stays cheap.
    public static let maximumBytes = 2000

    public enum Term: Sendable, Equatable {
        case text(String)
        case image(path: String)
    }

    public struct Part: Sendable, Equatable {
        public var term: Term
        /// Negative for terms after "-".
        public var weight: Double

        public init(term: Term, weight: Double) {
            self.term = term
            self.weight = weight
        }
    }

    public var parts: [Part]

    public init(parts: [Part]) {
        self.parts = parts
    }

    public var texts: [String] {
        parts.compactMap { if case let .text(text) = $0.term { return text } else { return nil } }
    }

    public var imagePaths: [String] {
        parts.compactMap { if case let .image(path) = $0.term { return path } else { return nil } }
    }

    /// Parses `text`. `fileExists` decides whether a bare path names a file.
    public static func parse(_ text: String, fileExists: (String) -> Bool = FilePaths.exists) throws(PhotoIndexError) -> SearchQuery {
        guard text.utf8.count <= maximumBytes else { throw .malformedQuery(.tooLong(bytes: text.utf8.count)) }
        let characters = Array(text)
        var index = 0
        var parts: [Part] = []
        var sign = 1.0
        var pendingOperator: String?

        func skipSpaces() { while index < characters.count, characters[index].isWhitespace { index += 1 } }

        skipSpaces()
        guard index < characters.count else { throw .emptyQuery }
        while true {
            skipSpaces()
            if index >= characters.count {
                if let pendingOperator { throw .malformedQuery(.missingTerm(after: pendingOperator)) }
                break
            }
            // An operator may start a term.
            if characters[index] == "+" || characters[index] == "-" {
                if let pendingOperator { throw .malformedQuery(.missingTerm(after: pendingOperator)) }
                sign = characters[index] == "-" ? -1 : 1
                pendingOperator = String(characters[index])
                index += 1
                continue
            }
            if !parts.isEmpty && pendingOperator == nil {
                throw .malformedQuery(.missingOperator(before: String(characters[index...].prefix(20))))
            }
            // Optional weight: digits[.digits] ':' not followed by a digit.
            var weight = 1.0
            var lookahead = index
            while lookahead < characters.count, characters[lookahead].isASCII,
                  characters[lookahead].isNumber || characters[lookahead] == "." { lookahead += 1 }
            if lookahead > index, lookahead < characters.count, characters[lookahead] == ":",
               lookahead + 1 >= characters.count || !characters[lookahead + 1].isNumber {
                let number = String(characters[index..<lookahead])
                // Bounded: a weight of 1e39 is a finite Double but infinite as
                // the Float the query vector is summed in.
                guard let value = Double(number), value > 0, value <= SearchQuery.maximumWeight else {
                    throw .malformedQuery(.invalidWeight(number))
                }
                weight = value
                index = lookahead + 1
                skipSpaces()
                guard index < characters.count else { throw .malformedQuery(.missingTerm(after: number + ":")) }
            }
            // The term: quoted text, or a bare run up to the next operator.
            let term: Term
            if characters[index] == "\"" || characters[index] == "'" {
                let quote = characters[index]
                index += 1
                var value = ""
                var closed = false
                while index < characters.count {
                    let character = characters[index]
                    if character == "\\", index + 1 < characters.count, characters[index + 1] == quote {
                        value.append(quote)
                        index += 2
                        continue
                    }
                    index += 1
                    if character == quote {
                        closed = true
                        break
                    }
                    value.append(character)
                }
                guard closed else { throw .malformedQuery(.unterminatedQuote) }
                term = .text(value)
            } else {
                var end = index
                while end < characters.count {
                    if characters[end].isWhitespace {
                        var next = end
                        while next < characters.count, characters[next].isWhitespace { next += 1 }
                        if next >= characters.count || characters[next] == "+" || characters[next] == "-"
                            || characters[next] == "\"" || characters[next] == "'" { break }
                        end = next
                        continue
                    }
                    end += 1
                }
                let bare = String(characters[index..<end])
                index = end
                term = try classify(bare, fileExists: fileExists)
            }
            if case let .text(value) = term, value.trimmingCharacters(in: .whitespaces).isEmpty {
                throw .emptyQuery
            }
            parts.append(Part(term: term, weight: sign * weight))
            sign = 1
            pendingOperator = nil
        }
        guard !parts.isEmpty else { throw .emptyQuery }
        return SearchQuery(parts: parts)
    }

    static let imageExtensions: Set<String> = ["jpg", "jpeg", "png", "webp", "heic", "heif"]

    private static func classify(_ bare: String, fileExists: (String) -> Bool) throws(PhotoIndexError) -> Term {
        let expanded = bare.hasPrefix("~/") ? NSHomeDirectory() + bare.dropFirst(1) : bare
        let hasImageExtension = imageExtensions.contains(FilePaths.pathExtension(expanded).lowercased())
            && !expanded.contains(" ")
        if hasImageExtension {
            guard fileExists(expanded) else { throw .noSuchImage(path: bare) }
            return .image(path: FilePaths.absolute(expanded))
        }
        if expanded.contains("/"), !expanded.contains(" "), fileExists(expanded) {
            return .image(path: FilePaths.absolute(expanded))
        }
        return .text(bare)
    }
}
