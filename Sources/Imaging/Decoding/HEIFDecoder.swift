import CImageCodecs

/// HEIC/HEIF (and AVIF) primary images through libheif, loaded on the first
/// HEIF photo (CImageCodecs/HEIFDecoder.c). libheif applies the container's
/// rotation and mirroring (irot/imir), which are authoritative in HEIF; an
/// EXIF orientation tag inside a HEIF file is therefore not applied again.
/// HEVC is decoded by photosearch's own libde265 plugin: libheif's leaves a
/// damaged picture's undecoded parts as uninitialised memory.
enum HEIFDecoder {
    struct Result {
        var bitmap: Bitmap
        /// The EXIF (TIFF) block, when the file carries one.
        var exif: [UInt8]?
        var reservation: DecodingBudget.Reservation
    }

    static func decode(_ bytes: [UInt8], path: String, maximumPixels: Int, budget: DecodingBudget, fileBytes: Int,
                       holding held: DecodingBudget.Reservation?) throws(ImagingError) -> Result {
        // What the file is made of, checked before libheif reads it.
        let items: HEIFItems
        do {
            items = try HEIFItems(bytes, maximumPixels: maximumPixels)
        } catch {
            throw .corrupt(path: path, format: "HEIF", reason: error.reason)
        }
        // libheif reads the bytes in place, from opening the file until it
        // is closed (EXIF included): all of it runs inside one
        // withUnsafeBufferPointer, where their address is valid.
        let outcome = bytes.withUnsafeBufferPointer { data -> Swift.Result<Result, ImagingError> in
            do throws(ImagingError) {
                return .success(try decode(in: data, items: items, path: path, maximumPixels: maximumPixels, budget: budget,
                                           fileBytes: fileBytes, holding: held))
            } catch {
                return .failure(error)
            }
        }
        return try outcome.get()
    }

    private static func decode(in data: UnsafeBufferPointer<UInt8>, items: HEIFItems, path: String, maximumPixels: Int,
                               budget: DecodingBudget, fileBytes: Int,
                               holding held: DecodingBudget.Reservation?) throws(ImagingError) -> Result {
        var message = [CChar](repeating: 0, count: 256)
        func failure(_ status: Int32) -> ImagingError {
            let reason = ImageDecoder.codecMessage(message)
            return .corrupt(path: path, format: "HEIF", reason: status == Int32(PS_CODEC_OUT_OF_MEMORY) ? "out of memory" : reason)
        }
        var heif: OpaquePointer?
        var width: Int32 = 0, height: Int32 = 0, hasAlpha: Int32 = 0
        let opened = ps_heif_open(data.baseAddress, data.count, &heif, &width, &height, &hasAlpha, &message, message.count)
        guard opened == Int32(PS_CODEC_OK), let heif else { throw failure(opened) }
        defer { ps_heif_close(heif) }
        guard width > 0, height > 0 else { throw .corrupt(path: path, format: "HEIF", reason: "image has no pixels") }
        guard ImageDecoder.fits(width: Int(width), height: Int(height), maximumPixels: maximumPixels) else {
            throw .tooLarge(path: path, width: Int(width), height: Int(height), limit: maximumPixels)
        }
        let layout: Bitmap.Layout = hasAlpha != 0 ? .rgba : .rgb
        // libde265's planes (up to 16-bit 4:4:4, 6 bytes a pixel; a grid's
        // tiles one at a time, into a canvas as large), libheif's RGB(A)
        // image and our copy of it, alive together for a moment.
        let area = Int(width) * Int(height)
        let reservation = budget.reserve(fileBytes + max(items.codedPixels, area) * 6 + area * 2 * layout.rawValue,
                                         replacing: held)
        let decoded = ps_heif_decode(heif, hasAlpha, maximumPixels, items.codedPixels, &width, &height, &message, message.count)
        guard decoded == Int32(PS_CODEC_OK) else { throw failure(decoded) }
        var pixels = [UInt8](repeating: 0, count: Int(width) * Int(height) * layout.rawValue)
        let copied = pixels.withUnsafeMutableBufferPointer { ps_heif_copy(heif, $0.baseAddress, $0.count) }
        guard copied == Int32(PS_CODEC_OK) else { throw .corrupt(path: path, format: "HEIF", reason: "decoder returned no pixels") }
        reservation.shrink(to: pixels.count)
        return Result(bitmap: Bitmap(width: Int(width), height: Int(height), layout: layout, pixels: pixels), exif: exifBlock(heif),
                      reservation: reservation)
    }

    /// The first "Exif" metadata item without its 4-byte header offset prefix
    /// (ISO/IEC 23008-12 Annex A.2.1).
    private static func exifBlock(_ heif: OpaquePointer) -> [UInt8]? {
        let size = ps_heif_exif(heif, nil, 0)
        guard size > 4, size < 16 << 20 else { return nil }
        var block = [UInt8](repeating: 0, count: size)
        guard block.withUnsafeMutableBufferPointer({ ps_heif_exif(heif, $0.baseAddress, $0.count) }) == size else { return nil }
        let offset = Int(block[0]) << 24 | Int(block[1]) << 16 | Int(block[2]) << 8 | Int(block[3])
        guard offset >= 0, 4 + offset < block.count else { return nil }
        var tiff = Array(block[(4 + offset)...])
        if tiff.starts(with: [0x45, 0x78, 0x69, 0x66, 0, 0]) { tiff.removeFirst(6) }
        return tiff
    }
}
