/// EXIF orientation (tag 0x0112): how the stored pixels must be turned to show
/// the photo upright. Raw values 1-8 as in the EXIF 2.32 specification, §4.6.4.
public enum Orientation: Int, Sendable, CaseIterable {
    case up = 1
    case upMirrored = 2
    case down = 3
    case downMirrored = 4
    case leftMirrored = 5
    case right = 6
    case rightMirrored = 7
    case left = 8

    /// True when turning the image swaps its width and height.
    public var swapsDimensions: Bool { rawValue >= 5 }

    /// The upright image. The transforms are those of Pillow's
    /// `ImageOps.exif_transpose`: 2 flip left-right, 3 rotate 180, 4 flip
    /// top-bottom, 5 transpose, 6 rotate 90° clockwise, 7 transverse,
    /// 8 rotate 90° counter-clockwise.
    public func apply(to image: Bitmap) -> Bitmap {
        if self == .up { return image }
        let inWidth = image.width, inHeight = image.height
        let outWidth = swapsDimensions ? inHeight : inWidth
        let outHeight = swapsDimensions ? inWidth : inHeight
        let channels = image.channels
        var output = [UInt8](repeating: 0, count: image.pixels.count)
        // For each output pixel (x, y), the input pixel it comes from is
        // origin + x * stepX + y * stepY, in units of pixels.
        let (origin, stepX, stepY): (Int, Int, Int)
        switch self {
        case .up: (origin, stepX, stepY) = (0, 1, inWidth)
        case .upMirrored: (origin, stepX, stepY) = (inWidth - 1, -1, inWidth)
        case .down: (origin, stepX, stepY) = (inWidth * inHeight - 1, -1, -inWidth)
        case .downMirrored: (origin, stepX, stepY) = ((inHeight - 1) * inWidth, 1, -inWidth)
        case .leftMirrored: (origin, stepX, stepY) = (0, inWidth, 1)
        case .right: (origin, stepX, stepY) = ((inHeight - 1) * inWidth, -inWidth, 1)
        case .rightMirrored: (origin, stepX, stepY) = (inWidth * inHeight - 1, -inWidth, -1)
        case .left: (origin, stepX, stepY) = (inWidth - 1, inWidth, -1)
        }
        image.pixels.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                var out = 0
                for y in 0..<outHeight {
                    var pixel = origin + y * stepY
                    for _ in 0..<outWidth {
                        let from = pixel * channels
                        for channel in 0..<channels {
                            target[out + channel] = source[from + channel]
                        }
                        out += channels
                        pixel += stepX
                    }
                }
            }
        }
        return Bitmap(width: outWidth, height: outHeight, layout: image.layout, pixels: output)
    }
}
