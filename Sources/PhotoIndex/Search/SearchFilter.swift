import FileAccess
import Foundation
import Imaging

/// Restrictions applied before ranking, so that the top K all satisfy them.
public struct SearchFilter: Sendable, Equatable {
    /// Taken at or after this instant ("YYYY-MM-DDTHH:MM:SS", camera-local time).
    public var after: String?
    /// Taken before this instant.
    public var before: String?
    /// Only photos under this folder (absolute path).
    public var folder: String?

    public init(after: String? = nil, before: String? = nil, folder: String? = nil) {
        self.after = after
        self.before = before
        self.folder = folder.map { FilePaths.absolute($0) }
    }

    public var isEmpty: Bool { after == nil && before == nil && folder == nil }

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
    func sql() -> (clause: String, arguments: [String]) {
        var conditions = ["state = 'indexed'"]
        var arguments: [String] = []
        let date = "COALESCE(substr(taken_at, 1, 19), strftime('%Y-%m-%dT%H:%M:%S', modified_at / 1000000000, 'unixepoch', 'localtime'))"
        if let after {
            conditions.append("\(date) >= ?")
            arguments.append(after)
        }
        if let before {
            conditions.append("\(date) < ?")
            arguments.append(before)
        }
        if let folder {
            let prefix = folder == "/" ? "/" : folder + "/"
            conditions.append("substr(path, 1, \(prefix.unicodeScalars.count)) = ?")
            arguments.append(prefix)
        }
        return (conditions.joined(separator: " AND "), arguments)
    }
}
