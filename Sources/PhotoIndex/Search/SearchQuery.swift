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
/// `in:NAME` (or `in:"New York"`) anywhere, outside the terms, is a place
/// filter (`SearchFilter.places`), `name:PATTERN` a file-name filter
/// (`SearchFilter.names`), `camera:TEXT` a camera filter; several of a kind
/// are alternatives. A query of filters alone ranks nothing: it lists the
/// photos they let through, newest first. So does a bare file name with an
/// image extension that names no file, alone: `IMG_1049.jpg` is
/// `name:IMG_1049.jpg`.
///
///     "dog" + "beach" - "people"        2:sunset + ./ref.jpg        a red car
///     beach in:Portugal                 "old town" in:"Santiago de Compostela"
///     name:IMG_10*                      sunset camera:"iPhone 12"
public struct SearchQuery: Sendable, Equatable {
    /// The largest weight a term may have (a weight of 1e39 is infinite as
    /// a Float).
    public static let maximumWeight = 1000.0
    /// The smallest (1e-46 is 0 as a Float, and a term a million times
    /// lighter than another is lost in its rounding anyway).
    public static let minimumWeight = 0.001
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
    /// The names of `in:` filters, as typed.
    public var places: [String]
    /// The patterns of `name:` filters.
    public var names: [String]
    /// The texts of `camera:` filters.
    public var cameras: [String]
    /// A bare file name taken as a `name:` filter (it names no file here):
    /// if no indexed photo is named so either, it was likely a mistyped
    /// example photo, and a search says "no such image".
    public var fileName: String? = nil

    public init(parts: [Part], places: [String] = [], names: [String] = [], cameras: [String] = []) {
        self.parts = parts
        self.places = places
        self.names = names
        self.cameras = cameras
    }

    /// The filters the query holds, added to `filter`.
    public func filter(adding filter: SearchFilter) -> SearchFilter {
        var filter = filter
        filter.places += places
        filter.names += names
        filter.cameras += cameras
        return filter
    }

    /// The filter keywords, lower-case.
    static let filterKeywords = ["in:", "name:", "camera:"]

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
        var places: [String] = [], names: [String] = [], cameras: [String] = []
        var fileName: String?
        var sign = 1.0
        var pendingOperator: String?

        func skipSpaces() { while index < characters.count, characters[index].isWhitespace { index += 1 } }
        /// The filter keyword ("in:", "name:", "camera:", any case) that
        /// starts at `position`, followed by a value, if one does.
        func filterKeyword(at position: Int) -> String? {
            SearchQuery.filterKeywords.first { keyword in
                position + keyword.count < characters.count
                    && String(characters[position..<position + keyword.count]).lowercased() == keyword
                    && !characters[position + keyword.count].isWhitespace
            }
        }
        func filterStarts(at position: Int) -> Bool { filterKeyword(at: position) != nil }
        /// Reads quoted text after its opening quote at `index`.
        func quoted() throws(PhotoIndexError) -> String {
            let quote = characters[index]
            index += 1
            var value = ""
            while index < characters.count {
                let character = characters[index]
                if character == "\\", index + 1 < characters.count, characters[index + 1] == quote {
                    value.append(quote)
                    index += 2
                    continue
                }
                index += 1
                if character == quote { return value }
                value.append(character)
            }
            throw .malformedQuery(.unterminatedQuote)
        }

        skipSpaces()
        guard index < characters.count else { throw .emptyQuery }
        while true {
            skipSpaces()
            if index >= characters.count {
                if let pendingOperator { throw .malformedQuery(.missingTerm(after: pendingOperator)) }
                break
            }
            // A filter stands between terms, with no operator.
            if let keyword = filterKeyword(at: index) {
                if let pendingOperator { throw .malformedQuery(.filterAfterOperator(pendingOperator, filter: keyword)) }
                index += keyword.count
                let name: String
                if characters[index] == "\"" || characters[index] == "'" {
                    name = try quoted()
                } else {
                    let start = index
                    while index < characters.count, !characters[index].isWhitespace { index += 1 }
                    name = String(characters[start..<index])
                }
                guard !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw .malformedQuery(.missingTerm(after: keyword)) }
                switch keyword {
                case "in:": places.append(name)
                case "name:": names.append(name)
                default: cameras.append(name)
                }
                continue
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
                guard let value = Double(number), value >= SearchQuery.minimumWeight, value <= SearchQuery.maximumWeight else {
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
                term = .text(try quoted())
            } else {
                var end = index
                while end < characters.count {
                    if characters[end].isWhitespace {
                        var next = end
                        while next < characters.count, characters[next].isWhitespace { next += 1 }
                        if next >= characters.count || characters[next] == "+" || characters[next] == "-"
                            || characters[next] == "\"" || characters[next] == "'" || filterStarts(at: next) { break }
                        end = next
                        continue
                    }
                    end += 1
                }
                let bare = String(characters[index..<end])
                index = end
                // A photo's file name, not a file here, as the first term
                // (kept only if it stays alone): the photos named so.
                if parts.isEmpty, pendingOperator == nil, weight == 1, fileName == nil, !bare.contains("/"), !bare.contains(" "),
                   imageExtensions.contains(FilePaths.pathExtension(bare).lowercased()), !fileExists(bare) {
                    fileName = bare
                    continue
                }
                term = try classify(bare, fileExists: fileExists)
            }
            if case let .text(value) = term, value.trimmingCharacters(in: .whitespaces).isEmpty {
                throw .emptyQuery
            }
            parts.append(Part(term: term, weight: sign * weight))
            sign = 1
            pendingOperator = nil
        }
        if let fileName {
            // With other terms it was meant as an example photo.
            guard parts.isEmpty else { throw .noSuchImage(path: fileName) }
            names.append(exactName(fileName))
        }
        guard !parts.isEmpty || !places.isEmpty || !names.isEmpty || !cameras.isEmpty else { throw .emptyQuery }
        var query = SearchQuery(parts: parts, places: places, names: names, cameras: cameras)
        query.fileName = fileName
        return query
    }

    static let imageExtensions: Set<String> = ["jpg", "jpeg", "png", "webp", "heic", "heif"]

    /// A `name:` glob matching exactly `name` (ASCII letters in any case):
    /// its wildcards bracketed, and its first character too, so that it is
    /// a glob even without any.
    static func exactName(_ name: String) -> String {
        var pattern = ""
        for (index, character) in name.enumerated() {
            pattern += index == 0 || "*?[".contains(character) ? "[\(character)]" : String(character)
        }
        return pattern
    }

    /// A bare term: an image when it names a file with an image extension
    /// or a path to one (spaces and all: "IMG_4411 copy.jpg"), text
    /// otherwise; a name with an image extension and no space that names no
    /// file is a mistyped example ("no such image", saying where it looked).
    private static func classify(_ bare: String, fileExists: (String) -> Bool) throws(PhotoIndexError) -> Term {
        let expanded = FilePaths.expandingTilde(bare)
        let hasImageExtension = imageExtensions.contains(FilePaths.pathExtension(expanded).lowercased())
        if hasImageExtension || expanded.contains("/"), fileExists(expanded) {
            return .image(path: FilePaths.absolute(expanded))
        }
        if hasImageExtension, !expanded.contains(" ") { throw .noSuchImage(path: expanded) }
        return .text(bare)
    }
}
