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

@Suite("EXIF metadata")
struct EXIFTests {
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
