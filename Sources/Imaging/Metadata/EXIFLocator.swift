/// Finds the EXIF (TIFF) block inside a JPEG or PNG file without decoding it.
enum EXIFLocator {
    static func tiffBlock(in bytes: [UInt8], format: ImageFormat) -> ArraySlice<UInt8>? {
        switch format {
        case .jpeg: return jpegBlock(bytes)
        case .png: return pngBlock(bytes)
        case .webp: return webpBlock(bytes)
        case .heif: return nil      // read through libheif (HEIFDecoder)
        }
    }

    /// Walks the RIFF chunks of a WebP file looking for "EXIF".
    private static func webpBlock(_ bytes: [UInt8]) -> ArraySlice<UInt8>? {
        var offset = 12
        while offset + 8 <= bytes.count {
            let type = bytes[offset..<(offset + 4)]
            let length = Int(bytes[offset + 4]) | Int(bytes[offset + 5]) << 8
                | Int(bytes[offset + 6]) << 16 | Int(bytes[offset + 7]) << 24
            let dataStart = offset + 8
            guard length >= 0, dataStart + length <= bytes.count else { return nil }
            if type.elementsEqual(Array("EXIF".utf8)) {
                var block = bytes[dataStart..<(dataStart + length)]
                // Some writers keep JPEG's "Exif\0\0" prefix.
                if block.starts(with: [0x45, 0x78, 0x69, 0x66, 0, 0]) { block = block.dropFirst(6) }
                return block
            }
            offset = dataStart + length + (length & 1)   // chunks are padded to even sizes
        }
        return nil
    }

    /// Walks the JPEG markers up to the first scan, looking for APP1 "Exif\0\0".
    private static func jpegBlock(_ bytes: [UInt8]) -> ArraySlice<UInt8>? {
        var offset = 2
        while offset + 4 <= bytes.count {
            guard bytes[offset] == 0xFF else { return nil }
            let marker = bytes[offset + 1]
            if marker == 0xFF { offset += 1; continue }            // fill byte
            if marker == 0xD8 || (0xD0...0xD7).contains(marker) { offset += 2; continue }
            if marker == 0xDA || marker == 0xD9 { return nil }        // scan data or end
            let length = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            guard length >= 2, offset + 2 + length <= bytes.count else { return nil }
            let payload = (offset + 4)..<(offset + 2 + length)
            if marker == 0xE1, payload.count > 6,
               bytes[payload.lowerBound..<(payload.lowerBound + 6)].elementsEqual([0x45, 0x78, 0x69, 0x66, 0, 0]) {
                return bytes[(payload.lowerBound + 6)..<payload.upperBound]
            }
            offset += 2 + length
        }
        return nil
    }

    /// Walks the PNG chunks looking for eXIf (PNG 1.5 extension), before IDAT ends.
    private static func pngBlock(_ bytes: [UInt8]) -> ArraySlice<UInt8>? {
        var offset = 8
        while offset + 12 <= bytes.count {
            let length = Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16
                | Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            let type = bytes[(offset + 4)..<(offset + 8)]
            let dataStart = offset + 8
            guard length >= 0, dataStart + length + 4 <= bytes.count else { return nil }
            if type.elementsEqual(Array("eXIf".utf8)) {
                return bytes[dataStart..<(dataStart + length)]
            }
            if type.elementsEqual(Array("IEND".utf8)) { return nil }
            offset = dataStart + length + 4
        }
        return nil
    }
}
