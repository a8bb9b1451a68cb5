import CWebP

/// Still WebP images through libwebp (lossy, lossless, with or without alpha).
enum WebPDecoder {
    /// Reserves, besides the output, what libwebp allocates while decoding:
    /// a lossless image is decoded whole into 32-bit pixels first; a lossy
    /// one with alpha keeps a whole alpha plane.
    static func decode(_ bytes: [UInt8], path: String, maximumPixels: Int, budget: DecodingBudget, fileBytes: Int,
                       holding held: DecodingBudget.Reservation?) throws(ImagingError) -> (Bitmap, DecodingBudget.Reservation) {
        var features = WebPBitstreamFeatures()
        let status = bytes.withUnsafeBufferPointer { WebPGetFeatures($0.baseAddress, $0.count, &features) }
        guard status == VP8_STATUS_OK else {
            throw .corrupt(path: path, format: "WebP", reason: Self.describe(status))
        }
        guard features.has_animation == 0 else {
            throw .corrupt(path: path, format: "WebP", reason: "animated WebP is not supported")
        }
        let width = Int(features.width), height = Int(features.height)
        guard width > 0, height > 0 else { throw .corrupt(path: path, format: "WebP", reason: "image has no pixels") }
        guard ImageDecoder.fits(width: width, height: height, maximumPixels: maximumPixels) else {
            throw .tooLarge(path: path, width: width, height: height, limit: maximumPixels)
        }
        let layout: Bitmap.Layout = features.has_alpha != 0 ? .rgba : .rgb
        let stride = width * layout.rawValue
        let working = width * height * (features.format == 2 ? 4 : features.has_alpha != 0 ? 1 : 0) + (1 << 20)
        let reservation = budget.reserve(fileBytes + working + stride * height, replacing: held)
        defer { reservation.shrink(to: stride * height) }
        var pixels = [UInt8](repeating: 0, count: stride * height)
        let decoded = bytes.withUnsafeBufferPointer { data in
            pixels.withUnsafeMutableBufferPointer { output in
                layout == .rgba
                    ? WebPDecodeRGBAInto(data.baseAddress, data.count, output.baseAddress, output.count, Int32(stride))
                    : WebPDecodeRGBInto(data.baseAddress, data.count, output.baseAddress, output.count, Int32(stride))
            }
        }
        guard decoded != nil else { throw .corrupt(path: path, format: "WebP", reason: "the bitstream could not be decoded") }
        return (Bitmap(width: width, height: height, layout: layout, pixels: pixels), reservation)
    }

    private static func describe(_ status: VP8StatusCode) -> String {
        switch status {
        case VP8_STATUS_NOT_ENOUGH_DATA: return "file is truncated"
        case VP8_STATUS_BITSTREAM_ERROR: return "bitstream error"
        case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature"
        case VP8_STATUS_OUT_OF_MEMORY: return "out of memory"
        default: return "invalid data"
        }
    }
}
