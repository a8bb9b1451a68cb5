import CEmbeddedFiles
import Foundation

/// A populated place from GeoNames (https://www.geonames.org, CC BY 4.0).
public struct Place: Sendable, Hashable {
    /// Its position in the data: stable for one `PlaceDirectory.dataVersion`.
    public let id: Int
    /// GeoNames' name (mostly the English or the local romanised one).
    public let name: String
    /// Its admin-1 region (state, province, prefecture…), when GeoNames has one.
    public let region: String?
    /// ISO 3166-1 alpha-2.
    public let countryCode: String
    /// The country's English name.
    public let country: String
    public let latitude: Double
    public let longitude: Double
    /// 0 when GeoNames does not know it (seats of administrative divisions).
    public let population: Int
}

/// A place and how far a position is from it.
public struct NearestPlace: Sendable, Hashable {
    public let place: Place
    /// Great-circle distance on a sphere of the Earth's mean radius.
    public let distanceKilometres: Double
}

public enum PlacesError: Error, Equatable, CustomStringConvertible {
    /// The data could not be decompressed (memory ran out).
    case unavailable
    case invalidData(String)

    public var description: String {
        switch self {
        case .unavailable: return "the built-in place data could not be read (out of memory?)"
        case let .invalidData(reason): return "the place data is damaged: \(reason)"
        }
    }
}

/// Offline reverse geocoding: the populated places of GeoNames' cities1000
/// (every place of at least 1 000 inhabitants, and administrative seats),
/// with their admin-1 regions, countries and the alternate names people
/// search in, built into the executable (scripts/make-places.py).
///
/// The nearest place to a position is found in a k-d tree over the places'
/// unit vectors in 3-D: the straight-line (chord) distance between two
/// points of the sphere grows with the great-circle distance, so the tree's
/// nearest is the true nearest, with no seam at the antimeridian and no
/// singularity at the poles.
public final class PlaceDirectory: Sendable {
    /// Positions farther than this from every place (the open sea, the
    /// poles, empty deserts) get no place.
    public static let maximumDistanceKilometres = 100.0
    /// The IUGG mean radius.
    public static let earthRadiusKilometres = 6371.0088

    /// The layout of the data this photosearch reads (scripts/make-places.py).
    static let format: UInt32 = 2
    /// "PSPLACES", then 8 u32 fields.
    static let headerBytes = 8 + 8 * 4

    /// The version of the data: indexes re-derive their photos' places when
    /// it changes.
    public let dataVersion: Int
    public var count: Int { latitudes.count }

    private let latitudes: [Float]
    private let longitudes: [Float]
    private let populations: [UInt32]
    private let nameOffsets: [UInt32]
    private let placeRegions: [UInt32]
    private let placeCountries: [UInt16]
    private let regionNames: [UInt32]
    private let countryNames: [UInt32]
    private let countryCodes: [String]
    /// (place, name) pairs, sorted by place.
    private let alternates: [(place: UInt32, name: UInt32)]
    /// (country, name) pairs, sorted by country: its names in other
    /// languages (Unicode CLDR) and English short forms.
    private let countryAlternates: [(country: UInt32, name: UInt32)]
    private let text: [UInt8]
    /// The k-d tree, implicit: the middle of each range splits it on axis
    /// depth % 3. `tree[i]` is a place id; `points` holds its unit vector.
    private let tree: [Int32]
    private let points: [SIMD3<Double>]

    /// The data built into photosearch, read once.
    public static func builtIn() throws(PlacesError) -> PlaceDirectory {
        try builtInData.get()
    }

    private static let builtInData: Result<PlaceDirectory, PlacesError> = {
        guard let bytes = builtInBytes() else { return .failure(.unavailable) }
        return bytes.withUnsafeBytes { raw in Result { () throws(PlacesError) in try PlaceDirectory(data: raw) } }
    }()

    /// The built-in data, decompressed; nil if memory runs out.
    static func builtInBytes() -> [UInt8]? {
        var length = 0
        guard let bytes = ps_places(&length) else { return nil }
        defer { free(bytes) }
        return Array(UnsafeBufferPointer(start: bytes, count: length))
    }

    /// Reads data in scripts/make-places.py's format, checking every count,
    /// offset and index before using it.
    public init(data: UnsafeRawBufferPointer) throws(PlacesError) {
        var reader = Reader(data)
        guard try reader.bytes(8) == Array("PSPLACES".utf8) else { throw .invalidData("not a place file") }
        let format = try reader.u32()
        guard format == Self.format else { throw .invalidData("format \(format) (this photosearch reads format \(Self.format))") }
        dataVersion = Int(try reader.u32())
        let countryCount = Int(try reader.u32()), regionCount = Int(try reader.u32()), placeCount = Int(try reader.u32())
        let alternateCount = Int(try reader.u32()), countryAlternateCount = Int(try reader.u32()), textCount = Int(try reader.u32())
        let expected = Self.headerBytes + countryCount * 8 + regionCount * 8 + placeCount * 24 + alternateCount * 8
            + countryAlternateCount * 8 + textCount
        guard data.count == expected, countryCount <= Int(UInt16.max), placeCount < Int(Int32.max) else {
            throw .invalidData("\(data.count) bytes where the header describes \(expected)")
        }

        var countryNames: [UInt32] = [], countryCodes: [String] = []
        for _ in 0..<countryCount {
            countryNames.append(try reader.u32())
            let code = try reader.bytes(2)
            guard code.allSatisfy({ (65...90).contains($0) }) else { throw .invalidData("a country code is not two capital letters") }
            countryCodes.append(String(decoding: code, as: UTF8.self))
            _ = try reader.u16()
        }
        var regionNames: [UInt32] = []
        for _ in 0..<regionCount {
            regionNames.append(try reader.u32())
            guard Int(try reader.u16()) < countryCount else { throw .invalidData("a region's country is out of range") }
            _ = try reader.u16()
        }
        var latitudes: [Float] = [], longitudes: [Float] = [], populations: [UInt32] = [], nameOffsets: [UInt32] = []
        var placeRegions: [UInt32] = [], placeCountries: [UInt16] = []
        for _ in 0..<placeCount {
            let latitude = try reader.f32(), longitude = try reader.f32()
            guard (-90...90).contains(latitude), (-180...180).contains(longitude) else {
                throw .invalidData("a place lies at \(latitude), \(longitude)")
            }
            latitudes.append(latitude)
            longitudes.append(longitude)
            populations.append(try reader.u32())
            nameOffsets.append(try reader.u32())
            let region = try reader.u32()
            guard region == UInt32.max || Int(region) < regionCount else { throw .invalidData("a place's region is out of range") }
            placeRegions.append(region)
            let country = try reader.u16()
            guard Int(country) < countryCount else { throw .invalidData("a place's country is out of range") }
            placeCountries.append(country)
            _ = try reader.u16()
        }
        var alternates: [(place: UInt32, name: UInt32)] = []
        var previous: UInt32 = 0
        for _ in 0..<alternateCount {
            let place = try reader.u32(), name = try reader.u32()
            guard Int(place) < placeCount, place >= previous else { throw .invalidData("alternate names out of order or range") }
            previous = place
            alternates.append((place, name))
        }
        var countryAlternates: [(country: UInt32, name: UInt32)] = []
        previous = 0
        for _ in 0..<countryAlternateCount {
            let country = try reader.u32(), name = try reader.u32()
            guard Int(country) < countryCount, country >= previous else { throw .invalidData("country names out of order or range") }
            previous = country
            countryAlternates.append((country, name))
        }
        let text = try reader.bytes(textCount)
        // Every name must start inside the text and end with a 0 byte there.
        var starts = [Bool](repeating: false, count: textCount + 1)
        var start = 0
        for (index, byte) in text.enumerated() where byte == 0 {
            starts[start] = true
            start = index + 1
        }
        let offsets = countryNames + regionNames + nameOffsets + alternates.map(\.name) + countryAlternates.map(\.name)
        guard offsets.allSatisfy({ Int($0) < textCount && starts[Int($0)] }) else {
            throw .invalidData("a name does not start a 0-terminated string of the text")
        }
        guard String(validating: text, as: UTF8.self) != nil else { throw .invalidData("the names are not UTF-8") }

        self.latitudes = latitudes
        self.longitudes = longitudes
        self.populations = populations
        self.nameOffsets = nameOffsets
        self.placeRegions = placeRegions
        self.placeCountries = placeCountries
        self.regionNames = regionNames
        self.countryNames = countryNames
        self.countryCodes = countryCodes
        self.alternates = alternates
        self.countryAlternates = countryAlternates
        self.text = text
        let vectors = (0..<placeCount).map { Self.unitVector(latitude: Self.degrees(latitudes[$0]), longitude: Self.degrees(longitudes[$0])) }
        var tree = (0..<placeCount).map(Int32.init)
        KDTree.build(&tree, vectors: vectors)
        self.tree = tree
        points = tree.map { vectors[Int($0)] }
    }

    /// The place `id`.
    public func place(_ id: Int) -> Place {
        let region = placeRegions[id]
        let country = Int(placeCountries[id])
        return Place(id: id, name: string(at: nameOffsets[id]), region: region == UInt32.max ? nil : string(at: regionNames[Int(region)]),
                     countryCode: countryCodes[country], country: string(at: countryNames[country]),
                     latitude: Self.degrees(latitudes[id]), longitude: Self.degrees(longitudes[id]), population: Int(populations[id]))
    }

    /// The alternate names kept for place `id` (東京 and 东京 for Tokyo).
    public func alternateNames(of id: Int) -> [String] {
        names(in: alternates.map { ($0.place, $0.name) }, of: id)
    }

    /// The other names of place `id`'s country (Portugal: 葡萄牙, ポルトガル,
    /// Portugalia…).
    public func countryAlternateNames(of id: Int) -> [String] {
        names(in: countryAlternates.map { ($0.country, $0.name) }, of: Int(placeCountries[id]))
    }

    /// The names of `owner` in (owner, name) pairs sorted by owner.
    private func names(in pairs: [(UInt32, UInt32)], of owner: Int) -> [String] {
        var low = 0, high = pairs.count
        while low < high {
            let middle = (low + high) / 2
            if Int(pairs[middle].0) < owner { low = middle + 1 } else { high = middle }
        }
        var names: [String] = []
        while low < pairs.count, Int(pairs[low].0) == owner {
            names.append(string(at: pairs[low].1))
            low += 1
        }
        return names
    }

    /// The place nearest to a position, if one is within `limit` km;
    /// nil for a position that is not a finite latitude and longitude.
    public func nearest(latitude: Double, longitude: Double,
                        within limit: Double = PlaceDirectory.maximumDistanceKilometres) -> NearestPlace? {
        guard latitude.isFinite, longitude.isFinite, (-90...90).contains(latitude), limit >= 0, !tree.isEmpty else { return nil }
        let query = Self.unitVector(latitude: latitude, longitude: longitude)
        // The chord of `limit` km of arc, squared, a hair wider so that a
        // place exactly at the limit is not lost to rounding.
        let angle = min(Double.pi, limit / Self.earthRadiusKilometres)
        let chord = 2 * sin(angle / 2)
        var best = (distance: chord * chord * (1 + 1e-12) + 1e-18, index: -1)
        KDTree.nearest(to: query, points: points, best: &best)
        guard best.index >= 0 else { return nil }
        let distance = Self.kilometres(chordSquared: best.distance)
        guard distance <= limit else { return nil }
        return NearestPlace(place: place(Int(tree[best.index])), distanceKilometres: distance)
    }

    /// A stored coordinate (float32) as GeoNames wrote it, to 5 decimals
    /// (1 m), not as 38.71666717529297.
    private static func degrees(_ value: Float) -> Double {
        (Double(value) * 1e5).rounded() / 1e5
    }

    /// Great-circle distance between two positions in degrees.
    public static func distanceKilometres(from a: (latitude: Double, longitude: Double),
                                          to b: (latitude: Double, longitude: Double)) -> Double {
        let chord = unitVector(latitude: a.latitude, longitude: a.longitude) - unitVector(latitude: b.latitude, longitude: b.longitude)
        return kilometres(chordSquared: (chord * chord).sum())
    }

    /// Great-circle distance of a squared chord of the unit sphere.
    static func kilometres(chordSquared: Double) -> Double {
        2 * asin(min(1, chordSquared.squareRoot() / 2)) * earthRadiusKilometres
    }

    static func unitVector(latitude: Double, longitude: Double) -> SIMD3<Double> {
        let phi = latitude * .pi / 180, lambda = longitude * .pi / 180
        return SIMD3(cos(phi) * cos(lambda), cos(phi) * sin(lambda), sin(phi))
    }

    private func string(at offset: UInt32) -> String {
        let start = Int(offset)
        var end = start
        while text[end] != 0 { end += 1 }
        return String(decoding: text[start..<end], as: UTF8.self)
    }
}

/// Little-endian fields, bounds-checked.
private struct Reader {
    let data: UnsafeRawBufferPointer
    var offset = 0

    init(_ data: UnsafeRawBufferPointer) { self.data = data }

    mutating func bytes(_ count: Int) throws(PlacesError) -> [UInt8] {
        guard count >= 0, count <= data.count - offset else { throw .invalidData("it ends early") }
        defer { offset += count }
        return Array(data[offset..<(offset + count)])
    }

    mutating func u32() throws(PlacesError) -> UInt32 {
        guard data.count - offset >= 4 else { throw .invalidData("it ends early") }
        defer { offset += 4 }
        return UInt32(littleEndian: data.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    mutating func u16() throws(PlacesError) -> UInt16 {
        guard data.count - offset >= 2 else { throw .invalidData("it ends early") }
        defer { offset += 2 }
        return UInt16(littleEndian: data.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    mutating func f32() throws(PlacesError) -> Float {
        Float(bitPattern: try u32())
    }
}
