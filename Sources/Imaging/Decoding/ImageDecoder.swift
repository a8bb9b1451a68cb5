import CImageCodecs
#if canImport(Glibc)
import Glibc
#endif

/// A photo read from disk: upright pixels and what its metadata said.
public struct DecodedPhoto: Sendable {
    public var bitmap: Bitmap
    public var format: ImageFormat
    /// Size of the stored image at full scale, before orientation and DCT scaling.
    public var storedWidth: Int
    public var storedHeight: Int
    public var metadata: PhotoMetadata
}

/// Decodes JPEG, PNG, WebP and HEIF photos, applying EXIF orientation.
public struct ImageDecoder: Sendable {
    /// Images with more pixels than this are refused before any pixel memory is allocated.
    public var maximumPixels: Int
    /// Whether to turn the image upright according to its EXIF orientation.
    public var appliesOrientation: Bool

    public static let defaultMaximumPixels = 250_000_000

    public init(maximumPixels: Int = ImageDecoder.defaultMaximumPixels, appliesOrientation: Bool = true) {
        self.maximumPixels = maximumPixels
        self.appliesOrientation = appliesOrientation
    }

    /// Decodes the file at `path`.
    ///
    /// - Parameter minimumShortSide: when set, a JPEG is decoded at the smallest
    ///   DCT scale (1/8, 1/4, 1/2) whose shorter side is still at least this many
    ///   pixels; nil decodes at full size, as Pillow does.
    public func decode(path: String, minimumShortSide: Int? = nil) throws(ImagingError) -> DecodedPhoto {
        let bytes = try FileBytes.read(path: path)
        return try decode(bytes: bytes, path: path, minimumShortSide: minimumShortSide)
    }

    /// Decodes an image held in memory; `path` is only used in error messages.
    public func decode(bytes: [UInt8], path: String, minimumShortSide: Int? = nil) throws(ImagingError) -> DecodedPhoto {
        guard !bytes.isEmpty else { throw .emptyFile(path: path) }
        guard let format = ImageFormat.sniff(bytes) else { throw .unsupportedFormat(path: path) }
        switch format {
        case .webp:
            let metadata = EXIFLocator.tiffBlock(in: bytes, format: format).map(EXIFReader.parse) ?? PhotoMetadata()
            var bitmap = try WebPDecoder.decode(bytes, path: path, maximumPixels: maximumPixels)
            let stored = (bitmap.width, bitmap.height)
            if appliesOrientation { bitmap = metadata.orientation.apply(to: bitmap) }
            return DecodedPhoto(bitmap: bitmap, format: format, storedWidth: stored.0, storedHeight: stored.1, metadata: metadata)
        case .heif:
            let result = try HEIFDecoder.decode(bytes, path: path, maximumPixels: maximumPixels)
            var metadata = result.exif.map { EXIFReader.parse(tiff: $0[...]) } ?? PhotoMetadata()
            // libheif already applied the container's transformations.
            metadata.orientation = .up
            return DecodedPhoto(bitmap: result.bitmap, format: format, storedWidth: result.bitmap.width,
                                storedHeight: result.bitmap.height, metadata: metadata)
        case .jpeg, .png:
            return try decodeWithCodecs(bytes: bytes, format: format, path: path, minimumShortSide: minimumShortSide)
        }
    }

    /// JPEG and PNG, through the C shim.
    private func decodeWithCodecs(bytes: [UInt8], format: ImageFormat, path: String, minimumShortSide: Int?) throws(ImagingError) -> DecodedPhoto {
        let metadata = EXIFLocator.tiffBlock(in: bytes, format: format).map(EXIFReader.parse) ?? PhotoMetadata()

        var message = [CChar](repeating: 0, count: 256)
        var image = ps_decoded_image()
        var storedWidth: Int32 = 0, storedHeight: Int32 = 0
        let status: Int32 = bytes.withUnsafeBufferPointer { data in
            switch format {
            case .jpeg:
                let header = ps_jpeg_read_header(data.baseAddress, data.count, &storedWidth, &storedHeight, &message, message.count)
                guard header == Int32(PS_CODEC_OK) else { return header }
                let denominator = Self.dctDenominator(width: Int(storedWidth), height: Int(storedHeight), minimumShortSide: minimumShortSide)
                return ps_jpeg_decode(data.baseAddress, data.count, Int32(denominator), UInt64(maximumPixels), &image, &message, message.count)
            case .png:
                let header = ps_png_read_header(data.baseAddress, data.count, &storedWidth, &storedHeight, &message, message.count)
                guard header == Int32(PS_CODEC_OK) else { return header }
                return ps_png_decode(data.baseAddress, data.count, UInt64(maximumPixels), &image, &message, message.count)
            case .webp, .heif:
                preconditionFailure("decoded elsewhere")
            }
        }
        defer { free(image.pixels) }
        switch status {
        case Int32(PS_CODEC_OK):
            break
        case Int32(PS_CODEC_TOO_LARGE):
            throw .tooLarge(path: path, width: Int(storedWidth), height: Int(storedHeight), limit: maximumPixels)
        default:
            let reason = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw .corrupt(path: path, format: format.rawValue, reason: reason.isEmpty ? "decoding failed" : Self.sentenceCase(reason))
        }
        guard image.width > 0, image.height > 0, let pixels = image.pixels else {
            throw .corrupt(path: path, format: format.rawValue, reason: "image has no pixels")
        }
        let layout: Bitmap.Layout = image.channels == 4 ? .rgba : .rgb
        let count = Int(image.width) * Int(image.height) * layout.rawValue
        var bitmap = Bitmap(width: Int(image.width), height: Int(image.height), layout: layout,
                            pixels: Array(UnsafeBufferPointer(start: pixels, count: count)))
        if appliesOrientation {
            bitmap = metadata.orientation.apply(to: bitmap)
        }
        return DecodedPhoto(bitmap: bitmap, format: format, storedWidth: Int(storedWidth),
                            storedHeight: Int(storedHeight), metadata: metadata)
    }

    /// The largest of 8, 4, 2, 1 such that the scaled shorter side (libjpeg
    /// rounds up) stays at or above `minimumShortSide`.
    static func dctDenominator(width: Int, height: Int, minimumShortSide: Int?) -> Int {
        guard let minimumShortSide, minimumShortSide > 0 else { return 1 }
        let shortSide = min(width, height)
        for denominator in [8, 4, 2] where (shortSide + denominator - 1) / denominator >= minimumShortSide {
            return denominator
        }
        return 1
    }

    private static func sentenceCase(_ text: String) -> String {
        guard let first = text.first else { return text }
        return first.lowercased() + text.dropFirst()
    }
}
