import CImageCodecs
import FileAccess
#if canImport(Glibc)
import Glibc
#endif

/// A photo file's bytes, read by `ImageDecoder.read(path:)` and counted in
/// its decoding budget until decoded or dropped.
public struct PhotoFile: Sendable {
    public let path: String
    public let bytes: [UInt8]
    let reservation: DecodingBudget.Reservation
}

/// A photo read from disk: upright pixels and what its metadata said.
public struct DecodedPhoto: Sendable {
    public var bitmap: Bitmap
    public var format: ImageFormat
    /// Size of the stored image at full scale, before orientation and DCT scaling.
    public var storedWidth: Int
    public var storedHeight: Int
    public var metadata: PhotoMetadata
    /// The decoding budget the pixels hold, released with the last copy of
    /// this value (keep it while the pixels are in use).
    public var reservation: DecodingBudget.Reservation?
}

/// Decodes JPEG, PNG, WebP and HEIF photos, applying EXIF orientation.
public struct ImageDecoder: Sendable {
    /// Images with more pixels than this are refused before any pixel memory is allocated.
    public var maximumPixels: Int
    /// Whether to turn the image upright according to its EXIF orientation.
    public var appliesOrientation: Bool
    /// Shared by every decode in the process unless told otherwise.
    public var budget: DecodingBudget
    /// A PNG with more pixels than this is box-reduced by 2, 4, 8 or 16 while
    /// it is read, when a `minimumShortSide` allows it: full size it would
    /// take gigabytes. (Smaller ones decode at full size, exactly as Pillow.)
    public var reducingPixels: Int

    public static let defaultMaximumPixels = 250_000_000

    /// The longest side decoded: JPEG's own limit. A PNG of 1 × 250 000 000
    /// pixels (486 KB) took 7.6 GB, in row pointers and in the weights of
    /// resampling one side by a hundred million.
    public static let maximumSide = 65_535

    /// Whether an image of `width` × `height` is within the limits.
    static func fits(width: Int, height: Int, maximumPixels: Int) -> Bool {
        width <= maximumSide && height <= maximumSide && width * height <= maximumPixels
    }

    public init(maximumPixels: Int = ImageDecoder.defaultMaximumPixels, appliesOrientation: Bool = true,
                budget: DecodingBudget = .standard, reducingPixels: Int = 64_000_000) {
        self.maximumPixels = maximumPixels
        self.appliesOrientation = appliesOrientation
        self.budget = budget
        self.reducingPixels = reducingPixels
    }

    /// The largest photo file read (a 250-megapixel 16-bit PNG is about
    /// this size); larger ones are refused before they are read.
    public var maximumFileBytes = 1 << 30

    /// Reads the photo file at `path` for decoding: it must be a regular
    /// file (never a FIFO or device), start like an image and be at most
    /// `maximumFileBytes`, all checked before the rest is read. Its bytes
    /// are counted in the decoding budget until it is decoded or dropped.
    public func read(path: String) throws(ImagingError) -> PhotoFile {
        let file: RegularFile
        do {
            file = try RegularFile(path: path)
        } catch {
            throw .cannotRead(path: path, reason: error.reason)
        }
        guard file.size > 0 else { throw .emptyFile(path: path) }
        do {
            guard ImageFormat.sniff(try file.prefix(ImageFormat.sniffedBytes)) != nil else { throw ImagingError.unsupportedFormat(path: path) }
            guard file.size <= maximumFileBytes else {
                throw ImagingError.fileTooLarge(path: path, reason: FileAccessError.tooLarge(path: path, size: file.size, limit: maximumFileBytes).reason)
            }
            let reservation = budget.reserve(file.size)
            let bytes = try file.readAll(limit: maximumFileBytes)
            return PhotoFile(path: path, bytes: bytes, reservation: reservation)
        } catch let error as ImagingError {
            throw error
        } catch let error as FileAccessError {
            throw .cannotRead(path: path, reason: error.reason)
        } catch {
            throw .cannotRead(path: path, reason: "\(error)")
        }
    }

    /// Decodes the file at `path`.
    ///
    /// - Parameter minimumShortSide: when set, a JPEG is decoded at the smallest
    ///   DCT scale (1/8, 1/4, 1/2) whose shorter side is still at least this many
    ///   pixels; nil decodes at full size, as Pillow does.
    public func decode(path: String, minimumShortSide: Int? = nil) throws(ImagingError) -> DecodedPhoto {
        try decode(try read(path: path), minimumShortSide: minimumShortSide)
    }

    /// Decodes a photo file read by `read(path:)`.
    public func decode(_ file: PhotoFile, minimumShortSide: Int? = nil) throws(ImagingError) -> DecodedPhoto {
        try decode(bytes: file.bytes, path: file.path, minimumShortSide: minimumShortSide, holding: file.reservation)
    }

    /// Decodes an image held in memory (an upload); `path` is only used in
    /// error messages. The caller bounds the bytes it holds.
    public func decode(bytes: [UInt8], path: String, minimumShortSide: Int? = nil) throws(ImagingError) -> DecodedPhoto {
        try decode(bytes: bytes, path: path, minimumShortSide: minimumShortSide, holding: nil)
    }

    /// Each format reserves, once its header is read, what its decode will
    /// allocate (the bytes themselves included, when `held` counts them),
    /// and keeps only its pixels' share once done.
    private func decode(bytes: [UInt8], path: String, minimumShortSide: Int?,
                        holding held: DecodingBudget.Reservation?) throws(ImagingError) -> DecodedPhoto {
        guard !bytes.isEmpty else { throw .emptyFile(path: path) }
        guard let format = ImageFormat.sniff(bytes) else { throw .unsupportedFormat(path: path) }
        let fileBytes = held == nil ? 0 : bytes.count
        switch format {
        case .webp:
            let metadata = EXIFLocator.tiffBlock(in: bytes, format: format).map(EXIFReader.parse) ?? PhotoMetadata()
            var (bitmap, reservation) = try WebPDecoder.decode(bytes, path: path, maximumPixels: maximumPixels, budget: budget,
                                                               fileBytes: fileBytes, holding: held)
            let stored = (bitmap.width, bitmap.height)
            if appliesOrientation { bitmap = metadata.orientation.apply(to: bitmap) }
            return DecodedPhoto(bitmap: bitmap, format: format, storedWidth: stored.0, storedHeight: stored.1, metadata: metadata,
                                reservation: reservation)
        case .heif:
            let result = try HEIFDecoder.decode(bytes, path: path, maximumPixels: maximumPixels, budget: budget,
                                                fileBytes: fileBytes, holding: held)
            var metadata = result.exif.map { EXIFReader.parse(tiff: $0[...]) } ?? PhotoMetadata()
            // libheif already applied the container's transformations.
            metadata.orientation = .up
            return DecodedPhoto(bitmap: result.bitmap, format: format, storedWidth: result.bitmap.width,
                                storedHeight: result.bitmap.height, metadata: metadata, reservation: result.reservation)
        case .jpeg, .png:
            return try decodeWithCodecs(bytes: bytes, format: format, path: path, minimumShortSide: minimumShortSide,
                                        fileBytes: fileBytes, holding: held)
        }
    }

    /// JPEG and PNG, through the C shim: the geometry first (nothing
    /// allocated), then the budget, then a decode straight into the array.
    private func decodeWithCodecs(bytes: [UInt8], format: ImageFormat, path: String, minimumShortSide: Int?,
                                  fileBytes: Int, holding held: DecodingBudget.Reservation?) throws(ImagingError) -> DecodedPhoto {
        let metadata = EXIFLocator.tiffBlock(in: bytes, format: format).map(EXIFReader.parse) ?? PhotoMetadata()
        var message = [CChar](repeating: 0, count: 256)
        func failure(_ status: Int32) -> ImagingError {
            let reason = Self.codecMessage(message)
            if status == Int32(PS_CODEC_OUT_OF_MEMORY) { return .corrupt(path: path, format: format.rawValue, reason: "out of memory") }
            return .corrupt(path: path, format: format.rawValue, reason: reason.isEmpty ? "decoding failed" : Self.sentenceCase(reason))
        }

        var geometry = ps_image_geometry()
        var scale: Int32 = 1
        let status: Int32 = bytes.withUnsafeBufferPointer { data in
            switch format {
            case .jpeg:
                var full = ps_image_geometry()
                let status = ps_jpeg_geometry(data.baseAddress, data.count, 1, &full, &message, message.count)
                guard status == Int32(PS_CODEC_OK) else { return status }
                scale = Int32(Self.dctDenominator(width: Int(full.width), height: Int(full.height), minimumShortSide: minimumShortSide))
                return ps_jpeg_geometry(data.baseAddress, data.count, scale, &geometry, &message, message.count)
            case .png:
                var full = ps_image_geometry()
                let status = ps_png_geometry(data.baseAddress, data.count, 1, &full, &message, message.count)
                guard status == Int32(PS_CODEC_OK) else { return status }
                scale = Int32(reduction(width: Int(full.width), height: Int(full.height), minimumShortSide: minimumShortSide))
                return ps_png_geometry(data.baseAddress, data.count, scale, &geometry, &message, message.count)
            case .webp, .heif:
                preconditionFailure("decoded elsewhere")
            }
        }
        guard status == Int32(PS_CODEC_OK) else { throw failure(status) }
        let (width, height) = (Int(geometry.width), Int(geometry.height))
        guard width > 0, height > 0, geometry.output_width > 0, geometry.output_height > 0 else {
            throw .corrupt(path: path, format: format.rawValue, reason: "image has no pixels")
        }
        guard Self.fits(width: width, height: height, maximumPixels: maximumPixels) else {
            throw .tooLarge(path: path, width: width, height: height, limit: maximumPixels)
        }
        guard bytes.count >= Int(geometry.minimum_data_bytes) else {
            throw .corrupt(path: path, format: format.rawValue,
                           reason: "its \(bytes.count) bytes cannot hold the \(width) × \(height) pixels its header claims")
        }
        let layout: Bitmap.Layout = geometry.channels == 4 ? .rgba : .rgb
        let count = Int(geometry.output_width) * Int(geometry.output_height) * layout.rawValue
        let decoderBytes = Int(geometry.decoder_bytes)
        let reservation = budget.reserve(fileBytes + decoderBytes + count, replacing: held)
        // Zeroed first: whatever a decoder leaves unwritten is never
        // another photo's leftover memory.
        var pixels = [UInt8](repeating: 0, count: count)
        let decoded = bytes.withUnsafeBufferPointer { data in
            pixels.withUnsafeMutableBufferPointer { buffer in
                format == .jpeg
                    ? ps_jpeg_decode_into(data.baseAddress, data.count, scale, buffer.baseAddress, count, decoderBytes, &message, message.count)
                    : ps_png_decode_into(data.baseAddress, data.count, scale, buffer.baseAddress, count, &message, message.count)
            }
        }
        reservation.shrink(to: count)
        guard decoded == Int32(PS_CODEC_OK) else { throw failure(decoded) }
        var bitmap = Bitmap(width: Int(geometry.output_width), height: Int(geometry.output_height), layout: layout, pixels: pixels)
        if appliesOrientation {
            bitmap = metadata.orientation.apply(to: bitmap)
        }
        return DecodedPhoto(bitmap: bitmap, format: format, storedWidth: width, storedHeight: height, metadata: metadata,
                            reservation: reservation)
    }

    /// The PNG box reduction: 1 unless the image has more than
    /// `reducingPixels`; then the smallest of 2, 4, 8, 16 that brings it under
    /// that, without the shorter side going below `minimumShortSide`.
    func reduction(width: Int, height: Int, minimumShortSide: Int?) -> Int {
        guard let minimumShortSide, width * height > reducingPixels else { return 1 }
        var chosen = 1
        for factor in [2, 4, 8, 16] where min(width, height) / factor >= minimumShortSide {
            chosen = factor
            if (width / factor) * (height / factor) <= reducingPixels { break }
        }
        return chosen
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

    /// A C decoder's message, on one line: libheif's end with a newline,
    /// and may hold more.
    static func codecMessage(_ message: [CChar]) -> String {
        String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            .split(whereSeparator: \.isNewline).map { line in line.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed() }
            .filter { !$0.isEmpty }.map { String($0) }.joined(separator: "; ")
    }

    private static func sentenceCase(_ text: String) -> String {
        guard let first = text.first else { return text }
        return first.lowercased() + text.dropFirst()
    }
}
