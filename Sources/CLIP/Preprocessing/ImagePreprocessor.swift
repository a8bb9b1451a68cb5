import Imaging

/// open_clip's evaluation transform (open_clip/transform.py `image_transform`,
/// is_train=False): Resize(image_size, bicubic) — the shorter side to
/// image_size, Pillow's antialiased resampling — then CenterCrop(image_size),
/// convert("RGB"), ToTensor (÷255), Normalize(mean, std). For
/// transformers-layout models, the image processor's variant
/// (`PreprocessConfiguration.cropOffset`, `.transparency`): transparency
/// composited on white first, the crop offset floored.
///
/// The image should already be upright: photosearch applies EXIF orientation
/// when decoding, which open_clip leaves to the caller.
public struct ImagePreprocessor: Sendable {
    public let configuration: PreprocessConfiguration

    public init(configuration: PreprocessConfiguration) {
        self.configuration = configuration
    }

    /// Floats per image: 3 × imageSize × imageSize.
    public var valuesPerImage: Int { 3 * configuration.imageSize * configuration.imageSize }

    /// The resized, cropped 8-bit RGB image the tower sees, before normalisation.
    public func resizedPixels(_ image: Bitmap) -> [UInt8] {
        let size = configuration.imageSize
        let width = image.width, height = image.height
        // torchvision's _compute_resized_output_size for an int size:
        // the short side becomes `size`, the long one int(size * long / short).
        var outputWidth = size, outputHeight = size
        if configuration.resizeMode == .shortest {
            if width <= height {
                outputHeight = Int(Double(size * height) / Double(width))
            } else {
                outputWidth = Int(Double(size * width) / Double(height))
            }
        }
        // torchvision's center_crop: top = int(round((h - size) / 2)), with
        // Python's round-half-to-even; transformers' center_crop: (h - size) // 2.
        let rounding: FloatingPointRoundingRule = configuration.cropOffset == .rounded ? .toNearestOrEven : .down
        let top = Int((Double(outputHeight - size) / 2).rounded(rounding))
        let left = Int((Double(outputWidth - size) / 2).rounded(rounding))
        let filter: ImageResampler.Filter = configuration.interpolation == .bicubic ? .bicubic : .bilinear

        if image.layout == .rgba, configuration.transparency == .onWhite {
            return ImageResampler.resize(image.compositedOnWhite().pixels, width: width, height: height, channels: 3,
                                         toWidth: outputWidth, height: outputHeight,
                                         columns: left..<(left + size), rows: top..<(top + size), filter: filter)
        }
        switch image.layout {
        case .rgb:
            return ImageResampler.resize(image.pixels, width: width, height: height, channels: 3,
                                         toWidth: outputWidth, height: outputHeight,
                                         columns: left..<(left + size), rows: top..<(top + size), filter: filter)
        case .rgba:
            if outputWidth == width && outputHeight == height {
                // Pillow's resize returns a copy when the size is unchanged.
                return ImageResampler.resize(image.droppingAlpha().pixels, width: width, height: height, channels: 3,
                                             toWidth: width, height: height,
                                             columns: left..<(left + size), rows: top..<(top + size), filter: filter)
            }
            // Pillow resizes RGBA with premultiplied alpha ("RGBa") and converts
            // back before convert("RGB") drops the alpha channel.
            let resized = ImageResampler.resize(Self.premultiply(image.pixels), width: width, height: height, channels: 4,
                                                toWidth: outputWidth, height: outputHeight,
                                                columns: left..<(left + size), rows: top..<(top + size), filter: filter)
            return Self.unpremultiplyDroppingAlpha(resized)
        }
    }

    /// Normalised CHW values of one image, appended to `output`.
    public func appendPixelValues(_ image: Bitmap, to output: inout [Float]) {
        let rgb = resizedPixels(image)
        let size = configuration.imageSize
        let plane = size * size
        let start = output.count
        output.append(contentsOf: repeatElement(0, count: 3 * plane))
        output.withUnsafeMutableBufferPointer { target in
            for channel in 0..<3 {
                let mean = configuration.mean[channel], std = configuration.std[channel]
                let base = start + channel * plane
                for index in 0..<plane {
                    // ToTensor divides by 255 in float32; Normalize subtracts and divides.
                    target[base + index] = (Float(rgb[index * 3 + channel]) / 255 - mean) / std
                }
            }
        }
    }

    /// Normalised CHW values of one image: 3 × imageSize × imageSize floats.
    public func pixelValues(_ image: Bitmap) -> [Float] {
        var values: [Float] = []
        values.reserveCapacity(valuesPerImage)
        appendPixelValues(image, to: &values)
        return values
    }

    /// RGBA → RGBa (Pillow Convert.c rgbA2rgba: c·a/255 rounded, MULDIV255).
    static func premultiply(_ pixels: [UInt8]) -> [UInt8] {
        var output = pixels
        for pixel in stride(from: 0, to: pixels.count, by: 4) {
            let alpha = UInt32(pixels[pixel + 3])
            for channel in 0..<3 {
                let product = UInt32(pixels[pixel + channel]) * alpha + 128
                output[pixel + channel] = UInt8(((product >> 8) + product) >> 8)
            }
        }
        return output
    }

    /// RGBa → RGBA (Pillow Convert.c rgba2rgbA: 255·c/a truncated and
    /// clamped; alpha 0 and 255 unchanged), then the alpha channel dropped.
    static func unpremultiplyDroppingAlpha(_ pixels: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: pixels.count / 4 * 3)
        for pixel in 0..<(pixels.count / 4) {
            let alpha = UInt32(pixels[pixel * 4 + 3])
            for channel in 0..<3 {
                let value = UInt32(pixels[pixel * 4 + channel])
                output[pixel * 3 + channel] = (alpha == 255 || alpha == 0) ? UInt8(value) : UInt8(min(255 * value / alpha, 255))
            }
        }
        return output
    }
}
