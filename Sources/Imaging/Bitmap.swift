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
