import ArgumentParser
import PhotoIndex

/// "30s", "30m", "6h", "1d" → seconds.
enum Interval {
    static func seconds(_ text: String) -> Double? {
        guard let unit = text.last, let value = Double(text.dropLast()), value.isFinite else { return nil }
        switch unit {
        case "s": return value
        case "m": return value * 60
        case "h": return value * 3600
        case "d": return value * 86400
        default: return nil
        }
    }

    /// `--every`'s value in seconds, or what is wrong with it: its form, or
    /// its range (0s and -5s have a number and a unit).
    static func every(_ text: String) throws -> Double {
        guard let seconds = seconds(text) else { throw ValidationError("--every takes a number and a unit, like 30s, 30m, 6h or 1d.") }
        guard IndexingOptions.intervalRange.contains(seconds) else { throw ValidationError("--every must be between 1s and 366d.") }
        return seconds
    }
}
