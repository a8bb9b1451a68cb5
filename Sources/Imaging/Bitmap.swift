/// An 8-bit image in memory: interleaved samples, row-major, rows packed
/// without padding. `rgb` has 3 samples per pixel, `rgba` 4 (straight alpha).
public struct Bitmap: Sendable, Equatable {
    public enum Layout: Int, Sendable {
        case rgb = 3
        case rgba = 4
    }

    public let width: Int
    public let height: Int
    public let layout: Layout
    public var pixels: [UInt8]

    public var channels: Int { layout.rawValue }

    public init(width: Int, height: Int, layout: Layout, pixels: [UInt8]) {
        precondition(width > 0 && height > 0, "a bitmap has at least one pixel")
        precondition(pixels.count == width * height * layout.rawValue, "pixel buffer does not match the size")
        self.width = width
        self.height = height
        self.layout = layout
        self.pixels = pixels
    }

    /// The picture composited on opaque white, as RGB: Pillow's
    /// alpha_composite over a white background (AlphaComposite.c, 7 bits of
    /// precision), value for value, as transformers' convert_to_rgb does.
    public func compositedOnWhite() -> Bitmap {
        guard layout == .rgba else { return self }
        var output = [UInt8](repeating: 0, count: width * height * 3)
        for pixel in 0..<(width * height) {
            let alpha = UInt32(pixels[pixel * 4 + 3])
            for channel in 0..<3 {
                let value = UInt32(pixels[pixel * 4 + channel])
                if alpha == 0 {
                    output[pixel * 3 + channel] = 255
                    continue
                }
                // outa255 = 255·255 over an opaque background, so
                // coef1 = alpha·128 and coef2 = (255 − alpha)·128.
                let blended = value * alpha * 128 + 255 * (255 - alpha) * 128 + (0x80 << 7)
                output[pixel * 3 + channel] = UInt8((((blended >> 8) + blended) >> 8) >> 7)
            }
        }
        return Bitmap(width: width, height: height, layout: .rgb, pixels: output)
    }

    /// The same picture without its alpha channel (alpha is dropped, not
    /// composited, as Pillow's `convert("RGB")` does).
    public func droppingAlpha() -> Bitmap {
        guard layout == .rgba else { return self }
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        pixels.withUnsafeBufferPointer { source in
            rgb.withUnsafeMutableBufferPointer { target in
                for index in 0..<(width * height) {
                    target[index * 3] = source[index * 4]
                    target[index * 3 + 1] = source[index * 4 + 1]
                    target[index * 3 + 2] = source[index * 4 + 2]
                }
            }
        }
        return Bitmap(width: width, height: height, layout: .rgb, pixels: rgb)
    }
}
