import FileAccess
import Foundation
import GRDB
import Imaging
import Places

/// Restrictions applied before ranking, so that the top K all satisfy them.
public struct SearchFilter: Sendable, Equatable {
    /// Taken at or after this instant ("YYYY-MM-DDTHH:MM:SS", camera-local time).
    public var after: String?
    /// Taken before this instant.
    public var before: String?
    /// Only photos under this folder (absolute path).
    public var folder: String?
    /// Only photos taken in a place of one of these names: a city, region or
    /// country, by any of its names, case and accents aside ("lisboa",
    /// "Lisbon", "Portugal", "PT", "東京").
    public var places: [String]
    /// Only photos taken within a distance of a position.
    public var near: Circle?
    /// Only photos whose file name (the path's last part) matches one of
    /// these: a glob when it holds `*`, `?` or `[` ("IMG_10*.jpg"), else a
    /// part of the name ("IMG_1049"); ASCII letters in any case.
    public var names: [String] = []
    /// Only photos from a camera whose make and model (as EXIF gives them,
    /// "Apple iPhone 12") hold one of these, ASCII letters in any case.
    public var cameras: [String] = []

    /// A position and a radius on the Earth's surface.
    public struct Circle: Sendable, Equatable {
        public var latitude: Double
        public var longitude: Double
        public var radiusKilometres: Double

        /// `--near` without a radius: a town and its surroundings.
        public static let defaultRadiusKilometres = 10.0
        /// Half the Earth's circumference: every point is within it.
        public static let maximumRadiusKilometres = Double.pi * PlaceDirectory.earthRadiusKilometres

        /// Refuses a position or radius out of range.
        public init(latitude: Double, longitude: Double, radiusKilometres: Double = defaultRadiusKilometres) throws(PhotoIndexError) {
            guard latitude >= -90, latitude <= 90 else {
                throw .invalidArgument(name: "position", reason: "latitude \(latitude) is not between -90 and 90")
            }
            guard longitude >= -180, longitude <= 180 else {
                throw .invalidArgument(name: "position", reason: "longitude \(longitude) is not between -180 and 180")
            }
            guard radiusKilometres > 0, radiusKilometres <= Self.maximumRadiusKilometres else {
                throw .invalidArgument(name: "radius", reason: "\(radiusKilometres) km is not more than 0 and at most \(Int(Self.maximumRadiusKilometres)) km")
            }
            self.latitude = latitude
            self.longitude = longitude
            self.radiusKilometres = radiusKilometres
        }

        /// "LAT,LON" or "LAT,LON,KM" in decimal degrees ("38.7223,-9.1393,5").
        public init(parsing text: String) throws(PhotoIndexError) {
            let fields = text.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            let numbers = fields.map { field -> Double? in
                // Digits, sign, point, exponent only: no "nan", "inf" or hex.
                guard !field.isEmpty, field.count <= 32,
                      field.allSatisfy({ $0.isASCII && ($0.isNumber || "+-.eE".contains($0)) }) else { return nil }
                return Double(field)
            }
            guard (2...3).contains(fields.count), numbers.allSatisfy({ $0?.isFinite ?? false }) else {
                throw .invalidArgument(name: "position", reason: "\"\(text.prefix(60))\" is not LAT,LON or LAT,LON,KM in decimal degrees and kilometres")
            }
            try self.init(latitude: numbers[0]!, longitude: numbers[1]!,
                          radiusKilometres: numbers.count == 3 ? numbers[2]! : Self.defaultRadiusKilometres)
        }

        /// Whether a position lies within the circle (great-circle distance).
        func contains(latitude: Double, longitude: Double) -> Bool {
            PlaceDirectory.distanceKilometres(from: (self.latitude, self.longitude), to: (latitude, longitude)) <= radiusKilometres
        }

        /// The latitudes the circle spans, for an index-friendly first cut.
        var latitudeRange: ClosedRange<Double> {
            let degrees = radiusKilometres / PlaceDirectory.earthRadiusKilometres * 180 / .pi
            return max(-90, latitude - degrees)...min(90, latitude + degrees)
        }
    }

    public init(after: String? = nil, before: String? = nil, folder: String? = nil, places: [String] = [], near: Circle? = nil,
                names: [String] = [], cameras: [String] = []) {
        self.names = names
        self.cameras = cameras
        self.after = after
        self.before = before
        self.folder = folder.map { FilePaths.absolute($0) }
        self.places = places
        self.near = near
    }

    /// The paths under `folder` (absolute) as a range of the path index:
    /// those under "/a/b/" sort from "/a/b/" up to "/a/b0" ("0" follows "/").
    static func paths(under folder: String) -> (from: String, before: String) {
        // (Appended, not cut: a folder ending in a prepending character, as
        // U+0600, would join the "/" into one Character.)
        folder == "/" ? ("/", "0") : (folder + "/", folder + "0")
    }

    public var isEmpty: Bool {
        after == nil && before == nil && folder == nil && places.isEmpty && near == nil && names.isEmpty && cameras.isEmpty
    }

    /// The most place names one search may give (each is an index lookup),
    /// and as many file names and cameras.
    public static let maximumPlaces = 50

    /// A photo's date in SQL, as results show it: its EXIF date taken, else
    /// its file's modification time (local).
    static let date = "COALESCE(substr(taken_at, 1, 19), \(fileDate("modified_at")))"

    /// A photo's time in SQL, for ordering: its EXIF date read as UTC
    /// seconds (NULL when it is not a date in that layout that SQLite
    /// reads), else its file's modification time in seconds (NULL when an
    /// index holds it as other than an integer). Within
    /// `PhotoSearcher.timeMargin` of `date`, and unlike it the same in
    /// every time zone, so index schema v8 keeps photos in its order
    /// (`photos_by_time`, an index on this very text: changing it needs a
    /// migration that builds that index again).
    static let time = """
        (CASE WHEN taken_at IS NULL AND typeof(modified_at) = 'integer' THEN modified_at / 1000000000 \
        WHEN substr(taken_at, 5, 1) = '-' AND substr(taken_at, 11, 1) = 'T' THEN unixepoch(substr(taken_at, 1, 19)) END)
        """

    /// An EXIF date taken (`column`) in SQL as results show it: as text
    /// (an index may hold a blob of anything, which GRDB would not read as
    /// a string), and NULL where `date` takes the file's time instead (an
    /// empty blob).
    static func takenText(_ column: String) -> String {
        "CASE WHEN substr(\(column), 1, 19) IS NOT NULL THEN CAST(\(column) AS TEXT) END"
    }

    /// A file's modification time (`column`, nanoseconds since 1970) in SQL,
    /// local, "YYYY-MM-DDTHH:MM:SS": a photo's date when it has no EXIF one.
    static func fileDate(_ column: String) -> String {
        "strftime('%Y-%m-%dT%H:%M:%S', \(column) / 1000000000, 'unixepoch', 'localtime')"
    }

    /// A photo's file name in SQL: the path after its last "/" (rtrim
    /// strips every character that is not a "/" from the end).
    static let fileName = "substr(path, length(rtrim(path, replace(path, '/', ''))) + 1)"

    /// `text` with its ASCII letters lower-cased, as SQLite's lower() does.
    static func asciiLowercased(_ text: String) -> String {
        String(decoding: text.utf8.map { (65...90).contains($0) ? $0 + 32 : $0 }, as: UTF8.self)
    }

    /// A name pattern as typed, composed (NFC, as keyboards type "ã") and
    /// decomposed (NFD, "a" + U+0303, as macOS names files), each once: a
    /// name typed in one form finds a file named in another. As typed only
    /// for a glob whose brackets hold other than ASCII: decomposed, "[ã]"
    /// would be "[a" + U+0303 + "]", which matches "a". (Swift's String
    /// equality treats the forms as equal; SQLite compares bytes.)
    static func unicodeForms(of text: String) -> [String] {
        if isGlob(text), text.contains("["), !text.unicodeScalars.allSatisfy(\.isASCII) { return [text] }
        var forms: [String] = []
        for form in [text, text.precomposedStringWithCanonicalMapping, text.decomposedStringWithCanonicalMapping]
        where !forms.contains(where: { Array($0.utf8) == Array(form.utf8) }) {
            forms.append(form)
        }
        return forms
    }

    /// Whether a name pattern opens a `[` set that no `]` closes (a `]`
    /// right after `[` or `[^` belongs to the set), which GLOB lets match
    /// nothing.
    static func hasUnclosedSet(_ pattern: String) -> Bool {
        let characters = Array(pattern)
        var index = 0
        while index < characters.count {
            guard characters[index] == "[" else {
                index += 1
                continue
            }
            var end = index + 1
            if end < characters.count, characters[end] == "^" { end += 1 }
            if end < characters.count, characters[end] == "]" { end += 1 }
            while end < characters.count, characters[end] != "]" { end += 1 }
            if end >= characters.count { return true }
            index = end + 1
        }
        return false
    }

    /// Whether a name pattern is a glob.
    static func isGlob(_ pattern: String) -> Bool { pattern.contains { "*?[".contains($0) } }

    /// "2024" → "2024-01-01T00:00:00", "2024-06" → "2024-06-01T00:00:00",
    /// "2024-06-15" and "2024-06-15T08:30[:00]" (a space works for the T).
    public static func instant(_ text: String) throws(PhotoIndexError) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: " ", with: "T")
        let pattern = #/(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?)?)?)?/#.asciiOnlyDigits()
        guard let match = trimmed.wholeMatch(of: pattern) else { throw .invalidDate(text) }
        func number(_ digits: Substring?, _ fallback: Int) -> Int { digits.flatMap { Int($0) } ?? fallback }
        let (year, month, day) = (number(match.1, 0), number(match.2, 1), number(match.3, 1))
        let (hour, minute, second) = (number(match.4, 0), number(match.5, 0), number(match.6, 0))
        guard (1...9999).contains(year), (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day),
              hour < 24, minute < 60, second < 60 else {
            throw .invalidDate(text)
        }
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d", year, month, day, hour, minute, second)
    }

    /// `date >= bound` (`atLeast`) or `date < bound` in SQL, with its
    /// arguments, without rendering every file time in local time (1.4 µs a
    /// row: 140 ms at 100 000 photos without EXIF dates). Read as UTC, a
    /// bound is within 25 hours of the instant any time zone means by it
    /// (zone files stay within 14; a POSIX TZ may say up to 24:59:59), so a
    /// file time more than two days past it is past it in every zone, and
    /// one more than two days before it is before it; only those between
    /// are rendered and compared as before.
    static func dateCondition(_ bound: String, atLeast: Bool) -> (String, [any DatabaseValueConvertible]) {
        let comparison = atLeast ? ">=" : "<"
        guard let seconds = utcSeconds(bound) else { return ("\(date) \(comparison) ?", [bound]) }
        // (COALESCE's first argument: NULL for a NULL or empty blob too.)
        var arms = "WHEN substr(taken_at, 1, 19) IS NOT NULL THEN substr(taken_at, 1, 19) \(comparison) ?"
        var arguments: [any DatabaseValueConvertible] = [bound]
        let day: Int64 = 2 * 86_400, nanoseconds: Int64 = 1_000_000_000
        // (Past the years a 64-bit count of nanoseconds reaches, every file time is rendered.)
        let (later, laterOverflows) = (seconds + day).multipliedReportingOverflow(by: nanoseconds)
        if !laterOverflows {
            arms += " WHEN modified_at >= ? THEN \(atLeast ? 1 : 0)"
            arguments.append(later)
        }
        let (earlier, earlierOverflows) = (seconds - day).multipliedReportingOverflow(by: nanoseconds)
        if !earlierOverflows {
            arms += " WHEN modified_at < ? THEN \(atLeast ? 0 : 1)"
            arguments.append(earlier)
        }
        arguments.append(bound)
        return ("(CASE \(arms) ELSE \(fileDate("modified_at")) \(comparison) ? END)", arguments)
    }

    /// The range of `time` (UTC seconds, index schema v8) that holds every
    /// photo the date bounds let through and has a time, in SQL with its
    /// arguments: each bound read as UTC and widened by
    /// `PhotoSearcher.timeMargin`, since a photo's date is within that of
    /// its time. Nil without a date bound, or with one that is not an instant.
    var timeRange: (clause: String, arguments: [any DatabaseValueConvertible])? {
        guard after != nil || before != nil else { return nil }
        var bounds: [String] = []
        var arguments: [any DatabaseValueConvertible] = []
        if let after {
            guard let seconds = Self.utcSeconds(after) else { return nil }
            bounds.append("\(Self.time) >= ?")
            arguments.append(seconds - PhotoSearcher.timeMargin)
        }
        if let before {
            guard let seconds = Self.utcSeconds(before) else { return nil }
            bounds.append("\(Self.time) < ?")
            arguments.append(seconds + PhotoSearcher.timeMargin)
        }
        return (bounds.joined(separator: " AND "), arguments)
    }

    /// Seconds since 1970 of "YYYY-MM-DDTHH:MM:SS" read as UTC (proleptic
    /// Gregorian); nil for any other text, or a time that does not exist
    /// ("2023-02-30", "T24:00"), which compares as text unlike its instant.
    static func utcSeconds(_ text: String) -> Int64? {
        // `instant` gives back only a real time, in exactly this layout of ASCII digits.
        guard (try? instant(text)) == text else { return nil }
        let bytes = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int64 { bytes[range].reduce(0) { $0 * 10 + Int64($1 - UInt8(ascii: "0")) } }
        let (year, month, day) = (number(0..<4), number(5..<7), number(8..<10))
        let (hour, minute, second) = (number(11..<13), number(14..<16), number(17..<19))
        // Days from 1970-01-01 to the date (the civil-from-days inverse, with March as month 0).
        let shifted = month <= 2 ? year - 1 : year
        let era = (shifted >= 0 ? shifted : shifted - 399) / 400
        let yearOfEra = shifted - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return days * 86_400 + hour * 3_600 + minute * 60 + second
    }

    /// Days in a month of the proleptic Gregorian calendar (EXIF's).
    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// The WHERE clause and arguments selecting allowed photos. A photo's
    /// date is its EXIF date taken, else its file's modification time (local).
    /// Place names match by `PlaceDirectory.searchKey`; a position's circle
    /// is cut here to its latitudes, the rest is `near.contains`'s.
    func sql(folderByRange: Bool = true) -> (clause: String, arguments: [any DatabaseValueConvertible]) {
        var conditions = ["state = 'indexed'"]
        var arguments: [any DatabaseValueConvertible] = []
        for (bound, atLeast) in [(after, true), (before, false)] {
            guard let bound else { continue }
            let (condition, values) = Self.dateCondition(bound, atLeast: atLeast)
            conditions.append(condition)
            arguments += values
        }
        if let folder {
            // A range of the path index: 0.05 ms for a folder of 100 photos
            // among 100 000, where comparing each path's start took 22.
            // (`+path` keeps SQLite from that index, for a reading in
            // another order that would sort the whole range.)
            let range = Self.paths(under: folder)
            conditions.append(folderByRange ? "path >= ? AND path < ?" : "+path >= ? AND +path < ?")
            arguments += [range.from, range.before]
        }
        if !places.isEmpty {
            let keys = Array(Set(places.map(PlaceDirectory.searchKey)))
            conditions.append("place_id IN (SELECT place_id FROM place_names WHERE key IN (\(keys.map { _ in "?" }.joined(separator: ","))))")
            arguments += keys
        }
        if let near {
            conditions.append("latitude BETWEEN ? AND ? AND longitude IS NOT NULL")
            arguments += [near.latitudeRange.lowerBound, near.latitudeRange.upperBound]
        }
        if !names.isEmpty {
            var tests: [String] = []
            for name in names {
                // Each test first on the whole path, which a matching file
                // name implies and which costs a tenth of cutting the name
                // out (`fileName`): 194 -> 48 ms at 100 000 photos for a
                // name few photos have.
                for form in Self.unicodeForms(of: name).map(Self.asciiLowercased) {
                    tests.append(Self.isGlob(name) ? "(lower(path) GLOB ('*' || ?) AND lower(\(Self.fileName)) GLOB ?)"
                                                   : "(instr(lower(path), ?) > 0 AND instr(lower(\(Self.fileName)), ?) > 0)")
                    arguments += [form, form]
                }
            }
            conditions.append("(" + tests.joined(separator: " OR ") + ")")
        }
        if !cameras.isEmpty {
            conditions.append("(" + cameras.map { _ in "instr(lower(camera), ?) > 0" }.joined(separator: " OR ") + ")")
            arguments += cameras.map(Self.asciiLowercased)
        }
        return (conditions.joined(separator: " AND "), arguments)
    }
}
