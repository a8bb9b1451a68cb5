/// Reads the few EXIF fields photosearch uses from a TIFF-structured EXIF
/// block (JPEG APP1 "Exif\0\0" payload, PNG eXIf chunk). Every offset is
/// bounds-checked: a hostile block yields fewer fields, never a crash.
enum EXIFReader {
    private enum Tag {
        static let make: UInt16 = 0x010F
        static let model: UInt16 = 0x0110
        static let orientation: UInt16 = 0x0112
        static let dateTime: UInt16 = 0x0132
        static let exifIFD: UInt16 = 0x8769
        static let gpsIFD: UInt16 = 0x8825
        static let dateTimeOriginal: UInt16 = 0x9003
        static let offsetTimeOriginal: UInt16 = 0x9011
        static let gpsLatitudeRef: UInt16 = 1
        static let gpsLatitude: UInt16 = 2
        static let gpsLongitudeRef: UInt16 = 3
        static let gpsLongitude: UInt16 = 4
    }

    /// One IFD entry; `valueOffset` points at the value inside the TIFF block.
    private struct Entry {
        var type: UInt16
        var count: Int
        var valueOffset: Int
    }

    static func parse(tiff: ArraySlice<UInt8>) -> PhotoMetadata {
        var metadata = PhotoMetadata()
        let bytes = Array(tiff)
        guard let reader = TIFFBytes(bytes) else { return metadata }

        let ifd0 = reader.entries(at: reader.firstIFDOffset)
        if let entry = ifd0[Tag.orientation], let value = reader.integer(entry),
           let orientation = Orientation(rawValue: value) {
            metadata.orientation = orientation
        }
        metadata.cameraMake = ifd0[Tag.make].flatMap(reader.ascii)
        metadata.cameraModel = ifd0[Tag.model].flatMap(reader.ascii)
        var taken = ifd0[Tag.dateTime].flatMap(reader.ascii)
        var offset: String?

        if let pointer = ifd0[Tag.exifIFD].flatMap(reader.integer) {
            let exif = reader.entries(at: pointer)
            if let original = exif[Tag.dateTimeOriginal].flatMap(reader.ascii) {
                taken = original
            }
            offset = exif[Tag.offsetTimeOriginal].flatMap(reader.ascii)
        }
        metadata.takenAt = taken.flatMap { normaliseDate($0, offset: offset) }

        if let pointer = ifd0[Tag.gpsIFD].flatMap(reader.integer) {
            let gps = reader.entries(at: pointer)
            // (0, 0) is where broken phones put photos they have no fix
            // for ("null island", in the Gulf of Guinea): no position.
            if let latitude = gps[Tag.gpsLatitude].flatMap(reader.degrees),
               let longitude = gps[Tag.gpsLongitude].flatMap(reader.degrees),
               abs(latitude) <= 90, abs(longitude) <= 180, latitude != 0 || longitude != 0 {
                let south = gps[Tag.gpsLatitudeRef].flatMap(reader.ascii)?.uppercased() == "S"
                let west = gps[Tag.gpsLongitudeRef].flatMap(reader.ascii)?.uppercased() == "W"
                metadata.latitude = south ? -latitude : latitude
                metadata.longitude = west ? -longitude : longitude
            }
        }
        return metadata
    }

    /// "2019:07:04 18:30:00" → "2019-07-04T18:30:00" (+ offset), or nil when the
    /// camera left the field blank ("    :  :     :  :  ") or wrote nonsense.
    /// The days of `month` in `year` (Gregorian): a camera's 2023:02:30 is no
    /// date, which the filters (SearchFilter.instant) would refuse as a bound.
    static func daysIn(_ month: Int, of year: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    static func normaliseDate(_ text: String, offset: String?) -> String? {
        let digits = Array(text.utf8)
        guard digits.count >= 19 else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                let byte = digits[index]
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              year >= 1800, (1...12).contains(month), (1...daysIn(month, of: year)).contains(day),
              hour < 24, minute < 60, second < 61 else { return nil }
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        var result = "\(year)-\(two(month))-\(two(day))T\(two(hour)):\(two(minute)):\(two(second))"
        if let offset, offset.utf8.count == 6,
           let sign = offset.first, sign == "+" || sign == "-",
           offset.dropFirst().allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ":") }) {
            result += offset
        }
        return result
    }

    /// Bounds-checked access to a TIFF block in either byte order.
    private struct TIFFBytes {
        let bytes: [UInt8]
        let littleEndian: Bool
        private(set) var firstIFDOffset: Int

        init?(_ bytes: [UInt8]) {
            guard bytes.count >= 8 else { return nil }
            self.bytes = bytes
            switch (bytes[0], bytes[1]) {
            case (0x49, 0x49): littleEndian = true
            case (0x4D, 0x4D): littleEndian = false
            default: return nil
            }
            firstIFDOffset = 0
            guard read16(2) == 42, let first = read32(4) else { return nil }
            firstIFDOffset = first
        }

        func read16(_ offset: Int) -> Int? {
            guard offset >= 0, offset + 2 <= bytes.count else { return nil }
            let a = Int(bytes[offset]), b = Int(bytes[offset + 1])
            return littleEndian ? a | b << 8 : a << 8 | b
        }

        func read32(_ offset: Int) -> Int? {
            guard let low = read16(littleEndian ? offset : offset + 2),
                  let high = read16(littleEndian ? offset + 2 : offset) else { return nil }
            return low | high << 16
        }

        /// The entries of the IFD at `offset`, by tag. At most 512 entries are read.
        func entries(at offset: Int) -> [UInt16: Entry] {
            guard let count = read16(offset), count <= 512 else { return [:] }
            var result: [UInt16: Entry] = [:]
            for index in 0..<count {
                let base = offset + 2 + index * 12
                guard let tag = read16(base), let type = read16(base + 2),
                      let valueCount = read32(base + 4) else { break }
                let size = Self.typeSize(UInt16(type)) * valueCount
                let valueOffset: Int
                if size <= 4 {
                    valueOffset = base + 8
                } else {
                    guard let pointer = read32(base + 8) else { continue }
                    valueOffset = pointer
                }
                guard size >= 0, valueOffset + size <= bytes.count else { continue }
                result[UInt16(tag)] = Entry(type: UInt16(type), count: valueCount, valueOffset: valueOffset)
            }
            return result
        }

        static func typeSize(_ type: UInt16) -> Int {
            switch type {
            case 1, 2, 6, 7: return 1      // BYTE, ASCII, SBYTE, UNDEFINED
            case 3, 8: return 2            // SHORT, SSHORT
            case 4, 9, 11: return 4        // LONG, SLONG, FLOAT
            case 5, 10, 12: return 8       // RATIONAL, SRATIONAL, DOUBLE
            default: return 0
            }
        }

        func integer(_ entry: Entry) -> Int? {
            guard entry.count >= 1 else { return nil }
            switch entry.type {
            case 3: return read16(entry.valueOffset)
            case 4: return read32(entry.valueOffset)
            default: return nil
            }
        }

        func ascii(_ entry: Entry) -> String? {
            guard entry.type == 2 || entry.type == 7, entry.count > 0 else { return nil }
            var raw = Array(bytes[entry.valueOffset..<(entry.valueOffset + entry.count)])
            if let end = raw.firstIndex(of: 0) { raw.removeSubrange(end...) }
            let text = String(decoding: raw, as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNulls)
            return text.isEmpty ? nil : text
        }

        /// Degrees from three RATIONALs (degrees, minutes, seconds).
        /// Degrees, minutes, seconds as three rationals. Cameras without
        /// sub-minute precision write 0/0 seconds (some 0/0 minutes): read
        /// as 0. A zero denominator anywhere else (in the degrees, or under
        /// a non-zero numerator) is no position.
        func degrees(_ entry: Entry) -> Double? {
            guard entry.type == 5, entry.count == 3 else { return nil }
            var parts: [Double] = []
            for index in 0..<3 {
                guard let numerator = read32(entry.valueOffset + index * 8),
                      let denominator = read32(entry.valueOffset + index * 8 + 4) else { return nil }
                if denominator == 0 {
                    guard index > 0, numerator == 0 else { return nil }
                    parts.append(0)
                } else {
                    parts.append(Double(numerator) / Double(denominator))
                }
            }
            return parts[0] + parts[1] / 60 + parts[2] / 3600
        }
    }
}

private extension String {
    enum TrimSet { case whitespacesAndNulls }

    func trimmingCharacters(in _: TrimSet) -> String {
        let scalars = unicodeScalars
        var start = scalars.startIndex, end = scalars.endIndex
        func trim(_ scalar: Unicode.Scalar) -> Bool { scalar.value == 0 || scalar.properties.isWhitespace }
        while start < end, trim(scalars[start]) { start = scalars.index(after: start) }
        while end > start, trim(scalars[scalars.index(before: end)]) { end = scalars.index(before: end) }
        return String(scalars[start..<end])
    }
}
