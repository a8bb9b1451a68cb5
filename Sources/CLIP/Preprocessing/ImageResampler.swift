/// Pillow-compatible resampling of 8-bit images (Pillow
/// src/libImaging/Resample.c, ImagingResample with a NULL box), so that
/// photosearch feeds the towers the same pixels open_clip does.
///
/// Pillow resizes in two separable passes, horizontal then vertical, each a
/// convolution whose kernel is widened by the scale factor when shrinking
/// (antialiasing). Weights are computed in double precision, normalised to sum
/// to one, then turned into 22-bit fixed point; the intermediate image is 8-bit
/// and each output sample is rounded and clamped. Reproducing all of that
/// gives bit-identical output.
enum ImageResampler {
    enum Filter: Sendable {
        case bicubic, bilinear

        var support: Double {
            switch self {
            case .bicubic: return 2
            case .bilinear: return 1
            }
        }

        /// Keys' cubic convolution with a = -0.5, or the triangle filter.
        func weight(_ distance: Double) -> Double {
            let x = abs(distance)
            switch self {
            case .bicubic:
                let a = -0.5
                if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
                if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
                return 0
            case .bilinear:
                return x < 1 ? 1 - x : 0
            }
        }
    }

    static let precisionBits = 32 - 8 - 2

    /// For each output sample of a window: the first input index it reads, how
    /// many it reads, and their fixed-point weights (`precisionBits` fraction bits).
    struct Coefficients {
        var starts: [Int]
        var counts: [Int]
        /// `outputs × kernelSize`.
        var weights: [Int32]
        var kernelSize: Int
    }

    /// precompute_coeffs + normalize_coeffs_8bpc for resizing `inputSize` to
    /// `outputSize`, for the outputs in `window` only.
    static func coefficients(inputSize: Int, outputSize: Int, window: Range<Int>, filter: Filter) -> Coefficients {
        let scale = Double(inputSize) / Double(outputSize)
        let filterScale = max(scale, 1)
        let support = filter.support * filterScale
        let kernelSize = Int(support.rounded(.up)) * 2 + 1
        var starts = [Int](repeating: 0, count: window.count)
        var counts = [Int](repeating: 0, count: window.count)
        var weights = [Int32](repeating: 0, count: window.count * kernelSize)
        var kernel = [Double](repeating: 0, count: kernelSize)
        let inverseScale = 1 / filterScale
        for (slot, output) in window.enumerated() {
            let center = (Double(output) + 0.5) * scale
            // C's (int) cast truncates toward zero, as Swift's Int(_:) does.
            let start = max(Int(center - support + 0.5), 0)
            let end = min(Int(center + support + 0.5), inputSize)
            let count = end - start
            var total = 0.0
            for index in 0..<count {
                let w = filter.weight((Double(index + start) - center + 0.5) * inverseScale)
                kernel[index] = w
                total += w
            }
            for index in 0..<count {
                let normalised = total != 0 ? kernel[index] / total : kernel[index]
                let fixed = normalised * Double(1 << precisionBits)
                weights[slot * kernelSize + index] = Int32((normalised < 0 ? fixed - 0.5 : fixed + 0.5).rounded(.towardZero))
            }
            starts[slot] = start
            counts[slot] = count
        }
        return Coefficients(starts: starts, counts: counts, weights: weights, kernelSize: kernelSize)
    }

    /// Resizes interleaved 8-bit pixels (`channels` per pixel) from
    /// `width × height` to `outputWidth × outputHeight` and returns only the
    /// window `columns × rows` of the result, row-major.
    ///
    /// The window's pixels are exactly those of a full resize followed by a
    /// crop, but only the input rows and output pixels the window needs are
    /// computed, so time and memory stay bounded by the window even for a
    /// 1 × 100 000 panorama.
    static func resize(_ pixels: [UInt8], width: Int, height: Int, channels: Int,
                       toWidth outputWidth: Int, height outputHeight: Int,
                       columns: Range<Int>, rows: Range<Int>, filter: Filter) -> [UInt8] {
        precondition(!columns.isEmpty && columns.lowerBound >= 0 && columns.upperBound <= outputWidth)
        precondition(!rows.isEmpty && rows.lowerBound >= 0 && rows.upperBound <= outputHeight)
        // Pillow skips a pass whose size does not change.
        let vertical = outputHeight != height
            ? coefficients(inputSize: height, outputSize: outputHeight, window: rows, filter: filter) : nil
        let inputRows: Range<Int>
        if let vertical {
            inputRows = vertical.starts.first!..<(vertical.starts.last! + vertical.counts.last!)
        } else {
            inputRows = rows
        }
        var current: [UInt8]
        if outputWidth != width {
            let horizontal = coefficients(inputSize: width, outputSize: outputWidth, window: columns, filter: filter)
            current = horizontalPass(pixels, width: width, channels: channels, inputRows: inputRows, horizontal)
        } else {
            current = []
            current.reserveCapacity(inputRows.count * columns.count * channels)
            for y in inputRows {
                let from = (y * width + columns.lowerBound) * channels
                current += pixels[from..<(from + columns.count * channels)]
            }
        }
        if let vertical {
            current = verticalPass(current, width: columns.count, channels: channels, firstRow: inputRows.lowerBound, vertical)
        }
        return current
    }

    @inline(__always)
    private static func clip8(_ accumulator: Int32) -> UInt8 {
        let value = accumulator >> Int32(precisionBits)
        return value < 0 ? 0 : (value > 255 ? 255 : UInt8(value))
    }

    private static func horizontalPass(_ pixels: [UInt8], width: Int, channels: Int,
                                       inputRows: Range<Int>, _ c: Coefficients) -> [UInt8] {
        let outputWidth = c.starts.count
        var output = [UInt8](repeating: 0, count: outputWidth * inputRows.count * channels)
        let half = Int32(1 << (precisionBits - 1))
        pixels.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                c.weights.withUnsafeBufferPointer { weights in
                    for (outY, y) in inputRows.enumerated() {
                        let row = y * width * channels
                        for x in 0..<outputWidth {
                            let start = c.starts[x], count = c.counts[x]
                            let kernel = x * c.kernelSize
                            for channel in 0..<channels {
                                var sum = half
                                for index in 0..<count {
                                    sum &+= Int32(source[row + (start + index) * channels + channel]) &* weights[kernel + index]
                                }
                                target[(outY * outputWidth + x) * channels + channel] = clip8(sum)
                            }
                        }
                    }
                }
            }
        }
        return output
    }

    private static func verticalPass(_ pixels: [UInt8], width: Int, channels: Int, firstRow: Int,
                                     _ c: Coefficients) -> [UInt8] {
        let stride = width * channels
        let outputRows = c.starts.count
        var output = [UInt8](repeating: 0, count: stride * outputRows)
        let half = Int32(1 << (precisionBits - 1))
        pixels.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                c.weights.withUnsafeBufferPointer { weights in
                    for y in 0..<outputRows {
                        let start = c.starts[y] - firstRow, count = c.counts[y]
                        let kernel = y * c.kernelSize
                        for column in 0..<stride {
                            var sum = half
                            for index in 0..<count {
                                sum &+= Int32(source[(start + index) * stride + column]) &* weights[kernel + index]
                            }
                            target[y * stride + column] = clip8(sum)
                        }
                    }
                }
            }
        }
        return output
    }
}
