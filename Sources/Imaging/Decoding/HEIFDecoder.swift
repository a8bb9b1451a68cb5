import CHeif
import CImageCodecs

/// HEIC/HEIF (and AVIF) primary images through libheif. libheif applies the
/// container's rotation and mirroring (irot/imir), which are authoritative in
/// HEIF; an EXIF orientation tag inside a HEIF file is therefore not applied
/// again. HEVC is decoded by photosearch's own libde265 plugin
/// (CImageCodecs/HEVCDecoder.c): libheif's leaves a damaged picture's
/// undecoded parts as uninitialised memory.
enum HEIFDecoder {
    struct Result {
        var bitmap: Bitmap
        /// The EXIF (TIFF) block, when the file carries one.
        var exif: [UInt8]?
        var reservation: DecodingBudget.Reservation
    }

    static func decode(_ bytes: [UInt8], path: String, maximumPixels: Int, budget: DecodingBudget, fileBytes: Int,
                       holding held: DecodingBudget.Reservation?) throws(ImagingError) -> Result {
        guard ps_heif_register_strict_hevc_decoder() == 0 else {
            throw .corrupt(path: path, format: "HEIF", reason: "photosearch's HEVC decoder could not be given to libheif")
        }
        guard let context = heif_context_alloc() else {
            throw .corrupt(path: path, format: "HEIF", reason: "out of memory")
        }
        defer { heif_context_free(context) }
        func failure(_ error: heif_error) -> ImagingError {
            let message = error.message.map { String(cString: $0) } ?? "decoding failed"
            return .corrupt(path: path, format: "HEIF", reason: message.prefix(1).lowercased() + message.dropFirst())
        }
        var error = bytes.withUnsafeBufferPointer {
            heif_context_read_from_memory_without_copy(context, $0.baseAddress, $0.count, nil)
        }
        guard error.code == heif_error_Ok else { throw failure(error) }
        var handle: OpaquePointer?
        error = heif_context_get_primary_image_handle(context, &handle)
        guard error.code == heif_error_Ok, let handle else { throw failure(error) }
        defer { heif_image_handle_release(handle) }

        let width = Int(heif_image_handle_get_width(handle)), height = Int(heif_image_handle_get_height(handle))
        guard width > 0, height > 0 else { throw .corrupt(path: path, format: "HEIF", reason: "image has no pixels") }
        guard width * height <= maximumPixels else {
            throw .tooLarge(path: path, width: width, height: height, limit: maximumPixels)
        }
        let hasAlpha = heif_image_handle_has_alpha_channel(handle) != 0
        let layout: Bitmap.Layout = hasAlpha ? .rgba : .rgb
        // libde265's planes (up to 16-bit 4:4:4, 6 bytes a pixel), libheif's
        // RGB(A) image and our copy of it, alive together for a moment.
        let reservation = budget.reserve(fileBytes + width * height * (6 + 2 * layout.rawValue), replacing: held)
        let bitmap = try decodePixels(handle, layout: layout, path: path, maximumPixels: maximumPixels, failure: failure)
        reservation.shrink(to: bitmap.pixels.count)
        return Result(bitmap: bitmap, exif: exifBlock(handle), reservation: reservation)
    }

    /// The primary image as upright RGB(A), copied out of libheif's image
    /// (released on return).
    private static func decodePixels(_ handle: OpaquePointer, layout: Bitmap.Layout, path: String, maximumPixels: Int,
                                     failure: (heif_error) -> ImagingError) throws(ImagingError) -> Bitmap {
        var image: OpaquePointer?
        let error = heif_decode_image(handle, &image, heif_colorspace_RGB,
                                      layout == .rgba ? heif_chroma_interleaved_RGBA : heif_chroma_interleaved_RGB, nil)
        guard error.code == heif_error_Ok, let image else { throw failure(error) }
        defer { heif_image_release(image) }
        let decodedWidth = Int(heif_image_get_width(image, heif_channel_interleaved))
        let decodedHeight = Int(heif_image_get_height(image, heif_channel_interleaved))
        var stride: Int32 = 0
        guard decodedWidth > 0, decodedHeight > 0, decodedWidth * decodedHeight <= maximumPixels,
              let plane = heif_image_get_plane_readonly(image, heif_channel_interleaved, &stride),
              Int(stride) >= decodedWidth * layout.rawValue else {
            throw .corrupt(path: path, format: "HEIF", reason: "decoder returned no pixels")
        }
        let rowBytes = decodedWidth * layout.rawValue
        var pixels = [UInt8](repeating: 0, count: rowBytes * decodedHeight)
        pixels.withUnsafeMutableBufferPointer { target in
            for row in 0..<decodedHeight {
                (target.baseAddress! + row * rowBytes).update(from: plane + row * Int(stride), count: rowBytes)
            }
        }
        return Bitmap(width: decodedWidth, height: decodedHeight, layout: layout, pixels: pixels)
    }

    /// The first "Exif" metadata item without its 4-byte header offset prefix
    /// (ISO/IEC 23008-12 Annex A.2.1).
    private static func exifBlock(_ handle: OpaquePointer) -> [UInt8]? {
        let count = heif_image_handle_get_number_of_metadata_blocks(handle, "Exif")
        guard count > 0 else { return nil }
        var ids = [heif_item_id](repeating: 0, count: Int(count))
        _ = heif_image_handle_get_list_of_metadata_block_IDs(handle, "Exif", &ids, count)
        let size = heif_image_handle_get_metadata_size(handle, ids[0])
        guard size > 4, size < 16 << 20 else { return nil }
        var block = [UInt8](repeating: 0, count: size)
        guard heif_image_handle_get_metadata(handle, ids[0], &block).code == heif_error_Ok else { return nil }
        let offset = Int(block[0]) << 24 | Int(block[1]) << 16 | Int(block[2]) << 8 | Int(block[3])
        guard offset >= 0, 4 + offset < block.count else { return nil }
        var tiff = Array(block[(4 + offset)...])
        if tiff.starts(with: [0x45, 0x78, 0x69, 0x66, 0, 0]) { tiff.removeFirst(6) }
        return tiff
    }
}
