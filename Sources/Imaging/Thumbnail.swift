/// Thumbnails: a photo scaled down to fit a square, then stored as JPEG.
public enum Thumbnail {
    /// The long side of every thumbnail, at most (the web gallery's tiles
    /// and its large view on a phone).
    public static let longSide = 512
    public static let quality = 82

    /// `image` (already upright) scaled so that its long side is at most
    /// `longSide` — by exact area averaging, each output pixel the mean of
    /// the source area it covers — with transparency composited on white,
    /// as baseline JPEG.
    public static func jpeg(_ image: Bitmap, longSide: Int = Thumbnail.longSide) throws(ImagingError) -> [UInt8] {
        try JPEGEncoder.encode(scaled(image.compositedOnWhite(), longSide: longSide), quality: quality)
    }

    /// Area-averaging downscale of an RGB bitmap to fit `longSide`; smaller
    /// images are returned as they are.
    static func scaled(_ image: Bitmap, longSide: Int) -> Bitmap {
        let long = max(image.width, image.height)
        guard long > longSide else { return image }
        let width = max(1, (image.width * longSide + long / 2) / long)
        let height = max(1, (image.height * longSide + long / 2) / long)
        // Separable: columns first (into float rows), then rows.
        let horizontal = weights(from: image.width, to: width)
        let vertical = weights(from: image.height, to: height)
        var rows = [Float](repeating: 0, count: image.height * width * 3)
        image.pixels.withUnsafeBufferPointer { source in
            for y in 0..<image.height {
                for (x, taps) in horizontal.enumerated() {
                    var sums: (Float, Float, Float) = (0, 0, 0)
                    for (column, weight) in taps {
                        let at = (y * image.width + column) * 3
                        sums.0 += weight * Float(source[at]); sums.1 += weight * Float(source[at + 1]); sums.2 += weight * Float(source[at + 2])
                    }
                    let out = (y * width + x) * 3
                    rows[out] = sums.0; rows[out + 1] = sums.1; rows[out + 2] = sums.2
                }
            }
        }
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for (y, taps) in vertical.enumerated() {
            for x in 0..<width {
                for channel in 0..<3 {
                    var sum: Float = 0
                    for (row, weight) in taps { sum += weight * rows[(row * width + x) * 3 + channel] }
                    pixels[(y * width + x) * 3 + channel] = UInt8(max(0, min(255, sum.rounded())))
                }
            }
        }
        return Bitmap(width: width, height: height, layout: .rgb, pixels: pixels)
    }

    /// For each output sample, the input samples it covers and their share.
    static func weights(from input: Int, to output: Int) -> [[(Int, Float)]] {
        let scale = Double(input) / Double(output)
        return (0..<output).map { index in
            let start = Double(index) * scale, end = start + scale
            var taps: [(Int, Float)] = []
            var position = Int(start)
            while Double(position) < end && position < input {
                let covered = min(end, Double(position + 1)) - max(start, Double(position))
                if covered > 0 { taps.append((position, Float(covered / scale))) }
                position += 1
            }
            return taps
        }
    }
}
