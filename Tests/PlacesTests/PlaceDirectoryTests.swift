import Foundation
import Testing
import TestSupport
@testable import Places

/// The built-in places against a brute-force great-circle search over the
/// same data, and at the places where a lookup on latitude and longitude
/// usually goes wrong: the antimeridian, the poles, the open sea.
@Suite("Places: offline reverse geocoding")
struct PlaceDirectoryTests {
    static let directory = Result { try PlaceDirectory.builtIn() }

    /// Haversine distance in km, computed independently of the tree's chords.
    static func haversine(_ a: (Double, Double), _ b: (Double, Double)) -> Double {
        let (phi1, phi2) = (a.0 * .pi / 180, b.0 * .pi / 180)
        let dPhi = phi2 - phi1, dLambda = (b.1 - a.1) * .pi / 180
        let h = sin(dPhi / 2) * sin(dPhi / 2) + cos(phi1) * cos(phi2) * sin(dLambda / 2) * sin(dLambda / 2)
        return 2 * asin(min(1, h.squareRoot())) * PlaceDirectory.earthRadiusKilometres
    }

    /// Every place's position, and its unit vector (x, y, z flat), read once.
    static let positions: [(Double, Double)] = {
        guard let directory = try? directory.get() else { return [] }
        return (0..<directory.count).map { let place = directory.place($0); return (place.latitude, place.longitude) }
    }()
    static let vectors: [Double] = positions.flatMap { position -> [Double] in
        let (phi, lambda) = (position.0 * .pi / 180, position.1 * .pi / 180)
        return [cos(phi) * cos(lambda), cos(phi) * sin(lambda), sin(phi)]
    }

    /// The nearest place by checking all of them: the largest cosine with
    /// the point (no tree, no chords), its distance by the haversine formula.
    static func bruteForce(_ directory: PlaceDirectory, _ latitude: Double, _ longitude: Double) -> (id: Int, km: Double) {
        let (phi, lambda) = (latitude * .pi / 180, longitude * .pi / 180)
        let (x, y, z) = (cos(phi) * cos(lambda), cos(phi) * sin(lambda), sin(phi))
        var best = (id: -1, cosine: -Double.infinity)
        vectors.withUnsafeBufferPointer { v in
            var i = 0, id = 0
            while i < v.count {
                let cosine = x * v[i] + y * v[i + 1] + z * v[i + 2]
                if cosine > best.cosine { best = (id, cosine) }
                i += 3
                id += 1
            }
        }
        return (best.id, haversine((latitude, longitude), positions[best.id]))
    }

    @Test("the built-in data: GeoNames cities1000, regions, countries, alternate names")
    func builtIn() throws {
        let directory = try Self.directory.get()
        #expect(directory.count > 100_000)
        let tokyo = try #require((0..<directory.count).map(directory.place).first { $0.name == "Tokyo" && $0.countryCode == "JP" })
        #expect(tokyo.country == "Japan" && tokyo.region == "Tokyo" && tokyo.population > 5_000_000)
        #expect(directory.alternateNames(of: tokyo.id).contains("東京"))
        #expect(directory.alternateNames(of: tokyo.id).contains("东京"))
        let lisbon = try #require((0..<directory.count).map(directory.place).first { $0.name == "Lisbon" && $0.countryCode == "PT" })
        #expect(lisbon.country == "Portugal" && directory.alternateNames(of: lisbon.id).contains("Lisboa"))
        // Lisbon's centre: one of its parishes (cities1000 has them), in Portugal.
        let centre = try #require(directory.nearest(latitude: 38.7223, longitude: -9.1393))
        #expect(centre.place.countryCode == "PT" && centre.place.region == "Lisbon" && centre.distanceKilometres < 2)
    }

    @Test("10 000 random points: the tree's nearest is the brute-force nearest (great-circle)")
    func randomPoints() throws {
        let directory = try Self.directory.get()
        // The same points on every run.
        var generator = SplitMix64(seed: 0x5EED)
        func uniform() -> Double { generator.uniform() }
        var checked = 0
        // Uniform on the sphere, and a third of them near places (where ties are close).
        for index in 0..<10_000 {
            var latitude = asin(2 * uniform() - 1) * 180 / .pi, longitude = 360 * uniform() - 180
            if index % 3 == 0 {
                let near = directory.place(Int(uniform() * Double(directory.count)) % directory.count)
                latitude = max(-90, min(90, near.latitude + (uniform() - 0.5) * 0.2))
                longitude = near.longitude + (uniform() - 0.5) * 0.2
                if longitude > 180 { longitude -= 360 }
                if longitude < -180 { longitude += 360 }
            }
            let expected = Self.bruteForce(directory, latitude, longitude)
            let found = directory.nearest(latitude: latitude, longitude: longitude, within: .infinity)
            let result = try #require(found, "\(latitude), \(longitude)")
            // Equal distance (several places can share a position): the same answer.
            #expect(result.place.id == expected.id || abs(result.distanceKilometres - expected.km) < 1e-6,
                    "\(latitude), \(longitude): \(result.place.name) at \(result.distanceKilometres) km, brute force \(directory.place(expected.id).name) at \(expected.km) km")
            #expect(abs(result.distanceKilometres - expected.km) < 1e-6 * max(1, expected.km))
            checked += 1
        }
        #expect(checked == 10_000)
    }

    @Test("across the antimeridian: the nearest place is on the other side of ±180° (Fiji, Chukotka)")
    func antimeridian() throws {
        let directory = try Self.directory.get()
        // West of 180° (longitude −179.95), nearest Levuka at +179.3; east of it
        // (+179.95), nearest Egvekinot at −179.1: a search on latitude and
        // longitude as a plane would look 359° away.
        for (latitude, longitude, name, code) in [(-18.07, -179.95, "Levuka", "FJ"), (66.3, 179.95, "Egvekinot", "RU")] {
            let found = try #require(directory.nearest(latitude: latitude, longitude: longitude))
            let expected = Self.bruteForce(directory, latitude, longitude)
            #expect(found.place.id == expected.id && abs(found.distanceKilometres - expected.km) < 1e-6)
            #expect(found.place.name == name && found.place.countryCode == code && found.distanceKilometres < 80, "\(found)")
            #expect((found.place.longitude < 0) != (longitude < 0))
        }
        // ±180° are the same meridian.
        let east = try #require(directory.nearest(latitude: -18.07, longitude: 180))
        let west = try #require(directory.nearest(latitude: -18.07, longitude: -180))
        #expect(east.place == west.place && abs(east.distanceKilometres - west.distanceKilometres) < 1e-9)
    }

    @Test("near the poles: Svalbard has its towns, the poles and the Arctic Ocean have none within the limit")
    func poles() throws {
        let directory = try Self.directory.get()
        let longyearbyen = try #require(directory.nearest(latitude: 78.2232, longitude: 15.6267))
        #expect(longyearbyen.place.name == "Longyearbyen" && longyearbyen.distanceKilometres < 5)
        for (latitude, longitude) in [(90.0, 0.0), (90.0, 123.0), (-90.0, 0.0), (-89.9, -45.0), (88.0, 15.0)] {
            #expect(directory.nearest(latitude: latitude, longitude: longitude) == nil, "\(latitude), \(longitude)")
            // Without a limit there is a nearest, and it agrees with brute force.
            let far = try #require(directory.nearest(latitude: latitude, longitude: longitude, within: .infinity))
            #expect(abs(far.distanceKilometres - Self.bruteForce(directory, latitude, longitude).km) < 1e-6 * far.distanceKilometres)
        }
    }

    @Test("in the open sea, and for positions that are not positions, no place")
    func noPlace() throws {
        let directory = try Self.directory.get()
        #expect(directory.nearest(latitude: 0, longitude: -140) == nil)           // the Pacific
        #expect(directory.nearest(latitude: -40, longitude: -20) == nil)          // the South Atlantic
        for (latitude, longitude) in [(Double.nan, 0.0), (0.0, .infinity), (91.0, 0.0), (-90.5, 10.0)] {
            #expect(directory.nearest(latitude: latitude, longitude: longitude) == nil)
        }
        // The limit is the documented one: just inside finds, just outside does not.
        let point = (latitude: 0.0, longitude: -140.0)
        let nearest = try #require(directory.nearest(latitude: point.latitude, longitude: point.longitude, within: .infinity))
        #expect(nearest.distanceKilometres > PlaceDirectory.maximumDistanceKilometres)
        #expect(directory.nearest(latitude: point.latitude, longitude: point.longitude, within: nearest.distanceKilometres + 0.001)?.place
            == nearest.place)
        #expect(directory.nearest(latitude: point.latitude, longitude: point.longitude, within: nearest.distanceKilometres - 0.001) == nil)
    }

    @Test("damaged data is refused with a reason, never trusted", arguments: ["truncated", "magic", "format", "count", "offset", "country", "country name"])
    func damagedData(damage: String) throws {
        let bytes = try #require(PlaceDirectory.builtInBytes())
        var data = bytes
        switch damage {
        case "truncated": data.removeLast(1)
        case "magic": data[0] = UInt8(ascii: "X")
        case "format": data[8] = 9
        case "count": data[24] &+= 1                                      // places: one more than there is room for
        case "offset":                                                      // the first country's name
            let header = PlaceDirectory.headerBytes
            withUnsafeBytes(of: UInt32.max.littleEndian) { data.replaceSubrange(header..<(header + 4), with: $0) }
        case "country name":                                                // the first country alternate's country
            func field(_ index: Int) -> Int {
                (0..<4).reduce(0) { $0 | Int(data[8 + 4 * index + $1]) << (8 * $1) }
            }
            let section = PlaceDirectory.headerBytes + field(2) * 8 + field(3) * 8 + field(4) * 24 + field(5) * 8
            withUnsafeBytes(of: UInt32(field(2)).littleEndian) { data.replaceSubrange(section..<(section + 4), with: $0) }
        default:                                                            // the first country's code
            data[PlaceDirectory.headerBytes + 4] = UInt8(ascii: "a")
        }
        #expect(throws: PlacesError.self) { try data.withUnsafeBytes { try PlaceDirectory(data: $0) } }
        // The undamaged copy reads.
        #expect(try bytes.withUnsafeBytes { try PlaceDirectory(data: $0) }.count > 0)
    }

    @Test("names are compared folded: case, accents, letters without decompositions, width, punctuation and apostrophes")
    func searchKeys() {
        let cases: [(String, String)] = [
            ("São Paulo", "sao paulo"), ("SAO-PAULO", "sao paulo"), ("  Île-de-France ", "ile de france"), ("Łódź", "lodz"),
            ("Straße", "strasse"), ("Ærø", "aero"), ("İstanbul", "istanbul"), ("St. John's", "st johns"), ("Oʻahu", "oahu"),
            ("東京", "東京"), ("ＴＯＫＹＯ", "tokyo"), ("Москва", "москва"), ("Αθήνα", "αθηνα"), ("- ,", ""), ("", ""),
        ]
        for (name, key) in cases { #expect(PlaceDirectory.searchKey(name) == key, "\(name)") }
    }

    @Test("a place's search keys: its names, its region's and its country's (name and code)")
    func keysOfAPlace() throws {
        let directory = try PlaceDirectory.builtIn()
        let lisbon = try #require(directory.nearest(latitude: 38.71667, longitude: -9.13333)).place
        let keys = directory.searchKeys(of: lisbon.id)
        #expect(keys.first { $0.key == "lisbon" }?.kind == .place)
        #expect(keys.first { $0.key == "lisboa" }?.kind == .place)
        #expect(keys.first { $0.key == "portugal" }?.kind == .country)
        #expect(keys.first { $0.key == "pt" }?.kind == .country)
        #expect(keys.first { $0.key == "葡萄牙" }?.kind == .country)                    // CLDR: Chinese
        #expect(keys.first { $0.key == "portugalia" }?.kind == .country)                // Polish
        #expect(directory.countryAlternateNames(of: lisbon.id).contains("ポルトガル"))
        #expect(Set(keys.map(\.key)).count == keys.count)
    }

    @Test("the data version read from the header alone is the loaded data's")
    func headerVersion() throws {
        #expect(try PlaceDirectory.builtInDataVersion() == (try PlaceDirectory.builtIn()).dataVersion)
    }
}
