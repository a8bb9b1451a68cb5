import Testing
import TestSupport
@testable import Imaging

/// A little-endian TIFF block built by hand: IFD0 with Make, Model,
/// Orientation and pointers to an Exif IFD and a GPS IFD.
struct TIFFBuilder {
    var bytes: [UInt8] = [0x49, 0x49, 42, 0, 8, 0, 0, 0]

    mutating func u16(_ value: Int) { bytes += [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF)] }
    mutating func u32(_ value: Int) { u16(value & 0xFFFF); u16(value >> 16 & 0xFFFF) }

    /// Entries (tag, type, count, value-or-offset) for an IFD at the current end.
    mutating func ifd(_ entries: [(Int, Int, Int, Int)]) {
        u16(entries.count)
        for (tag, type, count, value) in entries {
            u16(tag); u16(type); u32(count)
            if type == 3 && count == 1 { u16(value); u16(0) } else { u32(value) }
        }
        u32(0)
    }

    static func sample() -> [UInt8] {
        var builder = TIFFBuilder()
        // Layout: IFD0 at 8 (5 entries = 2 + 60 + 4 = 66 bytes) → data from 74.
        let make = Array("Canon\0".utf8), model = Array("Canon EOS R5\0".utf8)
        let dateTaken = Array("2021:07:04 18:30:05\0".utf8), offset = Array("+02:00\0".utf8)
        let makeAt = 74, modelAt = makeAt + make.count
        let exifAt = modelAt + model.count           // Exif IFD: 2 entries = 2 + 24 + 4 = 30 bytes
        let dateAt = exifAt + 30, offsetAt = dateAt + dateTaken.count
        let gpsAt = offsetAt + offset.count          // GPS IFD: 4 entries = 2 + 48 + 4 = 54 bytes
        let latitudeAt = gpsAt + 54, longitudeAt = latitudeAt + 24
        builder.ifd([(0x010F, 2, make.count, makeAt), (0x0110, 2, model.count, modelAt), (0x0112, 3, 1, 8),
                     (0x8769, 4, 1, exifAt), (0x8825, 4, 1, gpsAt)])
        builder.bytes += make + model
        builder.ifd([(0x9003, 2, dateTaken.count, dateAt), (0x9011, 2, offset.count, offsetAt)])
        builder.bytes += dateTaken + offset
        builder.ifd([(1, 2, 2, Int(Character("S").asciiValue!)), (2, 5, 3, latitudeAt),
                     (3, 2, 2, Int(Character("E").asciiValue!)), (4, 5, 3, longitudeAt)])
        for (numerator, denominator) in [(33, 1), (51, 1), (3000, 100), (151, 1), (12, 1), (36, 1)] {
            builder.u32(numerator); builder.u32(denominator)
        }
        return builder.bytes
    }
}

extension TIFFBuilder {
    /// IFD0 with only a GPS IFD holding these entries' references and
    /// rationals (nil: the tag is absent).
    static func gps(latitudeRef: String?, latitude: [(Int, Int)]?, longitudeRef: String?, longitude: [(Int, Int)]?,
                    altitude: (Int, Int)? = nil) -> [UInt8] {
        var builder = TIFFBuilder()
        // IFD0: 1 entry (2 + 12 + 4 = 18 bytes) at 8 → the GPS IFD at 26.
        var entries: [(Int, Int, Int, Int)] = []
        let count = [latitudeRef != nil, latitude != nil, longitudeRef != nil, longitude != nil, altitude != nil].filter { $0 }.count
        var dataAt = 26 + 2 + 12 * count + 4
        var data: [(Int, Int)] = []
        if let latitudeRef { entries.append((1, 2, 2, Int(Character(latitudeRef).asciiValue!))) }
        if let latitude { entries.append((2, 5, 3, dataAt)); dataAt += 24; data += latitude }
        if let longitudeRef { entries.append((3, 2, 2, Int(Character(longitudeRef).asciiValue!))) }
        if let longitude { entries.append((4, 5, 3, dataAt)); dataAt += 24; data += longitude }
        if let altitude { entries.append((6, 5, 1, dataAt)); data.append(altitude) }
        builder.ifd([(0x8825, 4, 1, 26)])
        builder.ifd(entries)
        for (numerator, denominator) in data { builder.u32(numerator); builder.u32(denominator) }
        return builder.bytes
    }
}

@Suite("EXIF metadata")
struct EXIFTests {
    @Test("GPS as cameras write it: hemispheres, 0/0 minutes and seconds, altitude alone, null island")
    func gpsEdgeCases() {
        func position(_ block: [UInt8]) -> (Double, Double)? {
            let metadata = EXIFReader.parse(tiff: block[...])
            guard let latitude = metadata.latitude, let longitude = metadata.longitude else { return nil }
            return (latitude, longitude)
        }
        func close(_ found: (Double, Double)?, _ expected: (Double, Double)) -> Bool {
            guard let found else { return false }
            return abs(found.0 - expected.0) < 1e-9 && abs(found.1 - expected.1) < 1e-9
        }
        let lisbon = [(38, 1), (43, 1), (2_040, 100)], westward = [(9, 1), (8, 1), (2_400, 100)]
        // South and west (upper and lower case), north and east.
        #expect(close(position(TIFFBuilder.gps(latitudeRef: "N", latitude: lisbon, longitudeRef: "W", longitude: westward)),
                      (38 + 43 / 60.0 + 20.4 / 3600, -(9 + 8 / 60.0 + 24 / 3600.0))))
        #expect(close(position(TIFFBuilder.gps(latitudeRef: "s", latitude: lisbon, longitudeRef: "w", longitude: westward)),
                      (-(38 + 43 / 60.0 + 20.4 / 3600), -(9 + 8 / 60.0 + 24 / 3600.0))))
        // No reference: read as north and east.
        #expect(close(position(TIFFBuilder.gps(latitudeRef: nil, latitude: lisbon, longitudeRef: nil, longitude: westward)),
                      (38 + 43 / 60.0 + 20.4 / 3600, 9 + 8 / 60.0 + 24 / 3600.0)))
        // 0/0 seconds and minutes (no sub-minute fix) are 0.
        #expect(close(position(TIFFBuilder.gps(latitudeRef: "N", latitude: [(51, 1), (30, 1), (0, 0)], longitudeRef: "W",
                                               longitude: [(0, 1), (7, 1), (0, 0)])), (51.5, -7 / 60.0)))
        #expect(close(position(TIFFBuilder.gps(latitudeRef: "N", latitude: [(51, 1), (0, 0), (0, 0)], longitudeRef: "E",
                                               longitude: [(7, 1), (0, 0), (0, 0)])), (51, 7)))
        // A zero denominator under the degrees, or under a non-zero numerator: no position.
        #expect(position(TIFFBuilder.gps(latitudeRef: "N", latitude: [(51, 0), (30, 1), (0, 1)], longitudeRef: "E",
                                         longitude: [(7, 1), (0, 1), (0, 1)])) == nil)
        #expect(position(TIFFBuilder.gps(latitudeRef: "N", latitude: [(51, 1), (30, 0), (0, 1)], longitudeRef: "E",
                                         longitude: [(7, 1), (0, 1), (0, 1)])) == nil)
        // Altitude alone, or one coordinate alone: no position.
        #expect(position(TIFFBuilder.gps(latitudeRef: nil, latitude: nil, longitudeRef: nil, longitude: nil, altitude: (120, 1))) == nil)
        #expect(position(TIFFBuilder.gps(latitudeRef: "N", latitude: lisbon, longitudeRef: nil, longitude: nil)) == nil)
        // (0, 0) from a phone without a fix: no position; a real place on the equator or the meridian is kept.
        let zero = [(0, 1), (0, 1), (0, 1)]
        #expect(position(TIFFBuilder.gps(latitudeRef: "N", latitude: zero, longitudeRef: "E", longitude: zero)) == nil)
        #expect(close(position(TIFFBuilder.gps(latitudeRef: "N", latitude: zero, longitudeRef: "E", longitude: [(32, 1), (34, 1), (0, 1)])),
                      (0, 32 + 34 / 60.0)))
        // Out of range: no position.
        #expect(position(TIFFBuilder.gps(latitudeRef: "N", latitude: [(91, 1), (0, 1), (0, 1)], longitudeRef: "E", longitude: zero)) == nil)
    }

    @Test("date taken, camera, GPS and orientation")
    func fields() {
        let metadata = EXIFReader.parse(tiff: TIFFBuilder.sample()[...])
        #expect(metadata.orientation == .left)
        #expect(metadata.cameraMake == "Canon")
        #expect(metadata.camera == "Canon EOS R5")
        #expect(metadata.takenAt == "2021-07-04T18:30:05+02:00")
        #expect(abs(metadata.latitude! - -33.8583333) < 1e-6)
        #expect(abs(metadata.longitude! - 151.21) < 1e-6)
    }

    @Test("blank and nonsense dates are dropped")
    func dates() {
        #expect(EXIFReader.normaliseDate("    :  :     :  :  ", offset: nil) == nil)
        #expect(EXIFReader.normaliseDate("2021:13:04 18:30:05", offset: nil) == nil)
        // Days a month does not have are no date; 29 February only in a leap year.
        for (text, valid) in [("2023:02:30 10:00:00", false), ("2023:02:29 10:00:00", false), ("2024:02:29 10:00:00", true),
                              ("1900:02:29 10:00:00", false), ("2000:02:29 10:00:00", true), ("2023:04:31 10:00:00", false),
                              ("2023:12:31 23:59:59", true)] {
            #expect((EXIFReader.normaliseDate(text, offset: nil) != nil) == valid, "\(text)")
        }
        #expect(EXIFReader.normaliseDate("2021:07:04 18:30:05", offset: "bogus!") == "2021-07-04T18:30:05")
    }

    @Test("corrupted EXIF blocks never crash, and damage elsewhere never changes the orientation")
    func mutations() {
        let original = TIFFBuilder.sample()
        let expected = EXIFReader.parse(tiff: original[...]).orientation
        #expect(expected == Orientation(rawValue: 8))
        // The header and IFD0's five entries: what the orientation is read from.
        let orientationBytes = 0..<70
        var generator = SplitMix64(seed: 42)
        var untouched = 0
        for _ in 0..<5000 {
            var block = original
            var touched = false
            for _ in 0..<Int.random(in: 1...8, using: &generator) {
                let position = Int.random(in: 0..<block.count, using: &generator)
                block[position] = UInt8.random(in: 0...255, using: &generator)
                touched = touched || orientationBytes.contains(position)
            }
            if Bool.random(using: &generator) { block.removeLast(Int.random(in: 0..<block.count, using: &generator)) }
            touched = touched || block.count < orientationBytes.upperBound
            let metadata = EXIFReader.parse(tiff: block[...])
            if !touched {
                untouched += 1
                #expect(metadata.orientation == expected)
            }
        }
        #expect(untouched > 500)   // the strict case ran often enough to mean something
    }
}
