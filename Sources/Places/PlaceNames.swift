import CEmbeddedFiles
import Foundation

/// How a name matches a place: as the place itself, its region or its country.
public enum PlaceNameKind: String, Sendable, Codable, CaseIterable {
    case place, region, country
}

extension PlaceDirectory {
    /// Bumped when `searchKey` changes: the keys an index stored must then be
    /// made again, as when the data changes.
    public static let searchKeyVersion = 1

    /// The version of the built-in data, read from its header without
    /// decompressing the rest (microseconds, where loading takes ~100 ms):
    /// whoever stored places decides from it whether they are stale.
    public static func builtInDataVersion() throws(PlacesError) -> Int {
        var header = [UInt8](repeating: 0, count: 16)
        guard ps_places_prefix(&header, header.count) == 0 else { throw .invalidData("it ends early") }
        guard header[0..<8].elementsEqual("PSPLACES".utf8) else { throw .invalidData("not a place file") }
        func u32(_ offset: Int) -> Int {
            (0..<4).reduce(0) { $0 | Int(header[offset + $1]) << (8 * $1) }
        }
        guard u32(8) == Int(format) else { throw .invalidData("format \(u32(8)) (this photosearch reads format \(format))") }
        return u32(12)
    }

    /// What a typed name is compared by: "São Paulo", "sao paulo" and
    /// "SAO-PAULO" all give "sao paulo". Accents and case are folded (with
    /// the letters that have no decomposition: ø, ł, đ, ß, æ, œ, ı, þ),
    /// full-width forms narrowed, apostrophes dropped, anything else but
    /// letters and digits turned into single spaces. Scripts without case
    /// (東京) pass unchanged.
    public static func searchKey(_ name: String) -> String {
        // Most names are ASCII: folded here byte by byte, as the general
        // path would fold them, without decomposing.
        if name.utf8.allSatisfy({ $0 < 0x80 }) {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(name.utf8.count)
            var pendingSpace = false
            for byte in name.utf8 {
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                    if pendingSpace { bytes.append(0x20); pendingSpace = false }
                    bytes.append(byte)
                case UInt8(ascii: "A")...UInt8(ascii: "Z"):
                    if pendingSpace { bytes.append(0x20); pendingSpace = false }
                    bytes.append(byte + 32)
                case UInt8(ascii: "'"), UInt8(ascii: "`"):
                    continue
                default:
                    pendingSpace = !bytes.isEmpty
                }
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        var key = ""
        var pendingSpace = false
        for scalar in name.decomposedStringWithCompatibilityMapping.unicodeScalars {
            let properties = scalar.properties
            if properties.generalCategory == .nonspacingMark || properties.generalCategory == .enclosingMark
                || Self.apostrophes.contains(scalar) { continue }
            guard properties.isAlphabetic || properties.numericType != nil else {
                pendingSpace = !key.isEmpty
                continue
            }
            if pendingSpace {
                key.append(" ")
                pendingSpace = false
            }
            let lower = String(scalar).lowercased()
            key += Self.unfoldedLetters[lower] ?? lower
        }
        return key
    }

    /// Left out, not turned into spaces: "St. John's" is "st johns", Oʻahu "oahu".
    private static let apostrophes: Set<Unicode.Scalar> = ["'", "\u{2019}", "\u{02BC}", "\u{02BB}", "`", "\u{00B4}"]

    private static let unfoldedLetters: [String: String] = [
        "ø": "o", "ł": "l", "đ": "d", "ß": "ss", "æ": "ae", "œ": "oe", "ı": "i", "þ": "th", "ð": "d", "ħ": "h", "ŧ": "t",
    ]

    /// The search keys of place `id` and what each names: the place (its
    /// name and alternate names), its region, its country (its names and
    /// ISO code).
    public func searchKeys(of id: Int) -> [(key: String, kind: PlaceNameKind)] {
        let place = place(id)
        var keys: [(String, PlaceNameKind)] = []
        var seen = Set<String>()
        func add(_ name: String, _ kind: PlaceNameKind) {
            let key = Self.searchKey(name)
            if !key.isEmpty, seen.insert(key).inserted { keys.append((key, kind)) }
        }
        add(place.name, .place)
        for name in alternateNames(of: id) { add(name, .place) }
        if let region = place.region { add(region, .region) }
        add(place.country, .country)
        add(place.countryCode, .country)
        for name in countryAlternateNames(of: id) { add(name, .country) }
        return keys
    }
}
