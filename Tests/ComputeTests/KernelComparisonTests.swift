import Compute
import Foundation
import Testing
import TestSupport

/// Random floats in [-scale, scale].
func randomFloats(_ count: Int, scale: Float = 1, seed: UInt64) -> [Float] {
    var generator = SplitMix64(seed: seed)
    return (0..<count).map { _ in Float(2 * generator.uniform() - 1) * scale }
}

/// |a − b| ≤ tolerance · max(1, |b|) for every element; the worst ratio otherwise.
func worstRelativeError(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
}

@Suite("Every fast kernel path equals the portable one")
struct KernelComparisonTests {
    /// x·Wᵀ in double precision, for the shapes below.
    func reference(_ x: [Float], _ weight: [Float], rows: Int, inputs: Int, outputs: Int, bias: [Float]?) -> [Float] {
        var y = [Float](repeating: 0, count: rows * outputs)
        for r in 0..<rows {
            for o in 0..<outputs {
                var sum = Double(bias?[o] ?? 0)
                for k in 0..<inputs { sum += Double(x[r * inputs + k]) * Double(weight[o * inputs + k]) }
                y[r * outputs + o] = Float(sum)
            }
        }
        return y
    }

    // Rows around the 6-row block and the 192-row chunk, outputs around the
    // 16-column panel, inputs odd and even, large enough to be split across cores.
    static let shapes: [(rows: Int, inputs: Int, outputs: Int)] = [
        (1, 3, 1), (5, 17, 16), (6, 64, 15), (7, 33, 17), (13, 77, 40), (193, 96, 33), (50, 512, 520),
    ]

    @Test("packed matrix products, with and without bias, accumulating or not", arguments: fastPaths)
    func linear(path: KernelPath) throws {
        guard let fast = fastKernels(path) else { return }
        for (index, shape) in Self.shapes.enumerated() {
            let weight = randomFloats(shape.outputs * shape.inputs, seed: UInt64(index))
            let bias = index % 2 == 0 ? randomFloats(shape.outputs, seed: 100 + UInt64(index)) : nil
            let x = Matrix(rows: shape.rows, columns: shape.inputs, values: randomFloats(shape.rows * shape.inputs, seed: 200 + UInt64(index)))
            let packed = PackedMatrix(weight: weight, outputs: shape.outputs, inputs: shape.inputs)
            let expected = reference(x.values, weight, rows: shape.rows, inputs: shape.inputs, outputs: shape.outputs, bias: bias)
            for kernels in [portable, fast] {
                var y = Matrix(zeros: shape.rows, shape.outputs)
                packed.multiply(x, into: &y, bias: bias, kernels: kernels)
                // float32 sums of up to 512 products of values ≤ 1, against double: a few ulps × √inputs.
                #expect(worstRelativeError(y.values, expected) < 2e-5, "\(kernels.path) \(shape)")
                // Accumulating adds the product to what is there.
                let before = y.values
                packed.multiply(x, into: &y, bias: bias, accumulate: true, kernels: kernels)
                #expect(worstRelativeError(y.values, zip(before, expected).map { $0 + $1 }) < 4e-5, "\(kernels.path) \(shape) accumulate")
            }
            var viaPortable = Matrix(zeros: shape.rows, shape.outputs), viaFast = Matrix(zeros: shape.rows, shape.outputs)
            packed.multiply(x, into: &viaPortable, bias: bias, kernels: portable)
            packed.multiply(x, into: &viaFast, bias: bias, kernels: fast)
            // Same products, different order of rounding (FMA): a few ulps.
            #expect(worstRelativeError(viaFast.values, viaPortable.values) < 2e-5, "\(shape)")
        }
    }

    @Test("activations over [-12, 12] and at their edges", arguments: fastPaths)
    func activations(path: KernelPath) throws {
        guard let fast = fastKernels(path) else { return }
        // Each edge value 16 times, so that it goes through the vector code
        // and not only a ragged tail; then the range, of an odd length.
        let edges: [Float] = [0, -0.0, 1e-30, -1e-30, 88, -88, 100, -100, 3.4e38, -3.4e38]
        let inputs = edges.flatMap { Array(repeating: $0, count: 16) } + (0..<4001).map { Float($0 - 2000) * 0.006 }   // -12 ... 12
        typealias Activation = (Kernels) -> (UnsafeMutablePointer<Float>, Int) -> Void
        let activations: [(String, Activation)] = [
            ("gelu", { k in { k.gelu($0, count: $1) } }),
            ("gelu_tanh", { k in { k.geluTanh($0, count: $1) } }),
            ("quick_gelu", { k in { k.quickGelu($0, count: $1) } }),
        ]
        for (name, activation) in activations {
            var viaPortable = inputs, viaFast = inputs
            viaPortable.withUnsafeMutableBufferPointer { activation(portable)($0.baseAddress!, $0.count) }
            viaFast.withUnsafeMutableBufferPointer { activation(fast)($0.baseAddress!, $0.count) }
            // libm against fits of exp (about 1e-7 relative) and erf (4e-7
            // absolute; x/2 times that in GELU, up to 1e-6 near x = -5.5).
            #expect(worstRelativeError(viaFast, viaPortable) < 2e-6, "\(name)")
            #expect(viaFast.allSatisfy { $0.isFinite }, "\(name)")
        }
    }

    /// One attention head of `table` over `rows` (q, k, v side by side,
    /// `3 · width + 5` apart), its output rows `width + 3` apart (NaN where
    /// nothing was to be written), and those rows' written columns.
    func attentionHead(_ table: Kernels, reduced: Bool = false, rows: [Float], tokens: Int, width: Int, queries: Int,
                       firstQuery: Int, causal: Bool) -> (out: [Float], written: [Float]) {
        let stride = 3 * width + 5
        var out = [Float](repeating: .nan, count: queries * (width + 3))
        var scratch = [Float](repeating: .nan, count: Kernels.attentionScratchCount(keys: tokens, width: width))
        rows.withUnsafeBufferPointer { r in
            out.withUnsafeMutableBufferPointer { o in
                scratch.withUnsafeMutableBufferPointer { s in
                    table.attentionHead(queries: r.baseAddress! + firstQuery * stride, keys: r.baseAddress! + width,
                                        values: r.baseAddress! + 2 * width, stride: stride, into: o.baseAddress!,
                                        outputStride: width + 3, queryCount: queries, keyCount: tokens, width: width,
                                        scale: 0.2, causalFirst: causal ? firstQuery : -1, scratch: s.baseAddress!, reduced: reduced)
                }
            }
        }
        return (out, (0..<queries).flatMap { out[($0 * (width + 3))..<($0 * (width + 3) + width)] })
    }

    /// Only the rows' `width` columns are written; the 3 between stay untouched.
    func expectGapsUntouched(_ out: [Float], queries: Int, width: Int, _ label: String) {
        for row in 0..<queries {
            #expect(out[(row * (width + 3) + width)..<((row + 1) * (width + 3))].allSatisfy { $0.isNaN }, "\(label)")
        }
    }

    @Test("attention heads, causal and not, one query or all, ragged widths and key counts", arguments: fastPaths)
    func attention(path: KernelPath) throws {
        guard let fast = fastKernels(path) else { return }
        // ViT-B/32's 50 tokens of 64, a text tower's 77, SigLIP 2 B/16's 256
        // at 256 px (keys padded a block further apart), and ragged shapes
        // that leave partial key blocks, query blocks and column chunks.
        for (tokens, width) in [(11, 24), (50, 64), (77, 64), (256, 64), (5, 8), (33, 40), (17, 72)] {
            let rows = randomFloats(tokens * (3 * width + 5), scale: 2, seed: UInt64(9 + tokens))
            let cases = [(tokens, 0, false), (tokens, 0, true), (1, min(7, tokens - 1), true), (1, 0, false),
                         (tokens - 2, 2, true), (3, tokens - 3, true)]
            for (queries, firstQuery, causal) in cases {
                let reference = attentionHead(portable, rows: rows, tokens: tokens, width: width, queries: queries, firstQuery: firstQuery, causal: causal)
                let result = attentionHead(fast, rows: rows, tokens: tokens, width: width, queries: queries, firstQuery: firstQuery, causal: causal)
                let label = "tokens \(tokens) width \(width) queries \(queries) from \(firstQuery) causal \(causal)"
                expectGapsUntouched(result.out, queries: queries, width: width, label)
                #expect(worstRelativeError(result.written, reference.written) < 1e-5, "\(label)")
            }
        }
    }

    @Test("reduced-precision attention (int8 towers') stays within bfloat16's rounding of the portable float32 one",
          arguments: KernelPath.allCases)
    func reducedAttention(path: KernelPath) throws {
        guard let kernels = fastKernels(path) else { return }
        for (tokens, width) in [(11, 24), (50, 64), (197, 64), (5, 8), (33, 40), (17, 72), (257, 64)] {
            let rows = randomFloats(tokens * (3 * width + 5), scale: 2, seed: UInt64(19 + tokens))
            for (queries, firstQuery, causal) in [(tokens, 0, false), (tokens, 0, true), (1, 0, false), (3, tokens - 3, true)] {
                let reference = attentionHead(portable, rows: rows, tokens: tokens, width: width, queries: queries, firstQuery: firstQuery, causal: causal)
                let result = attentionHead(kernels, reduced: true, rows: rows, tokens: tokens, width: width, queries: queries,
                                           firstQuery: firstQuery, causal: causal)
                let label = "\(path.rawValue): tokens \(tokens) width \(width) queries \(queries) from \(firstQuery) causal \(causal)"
                expectGapsUntouched(result.out, queries: queries, width: width, label)
                // bfloat16 keeps 8 bits of mantissa: products within a few
                // parts in a thousand; the float32 levels are exact to 1e-5.
                let tolerance: Float = path == .avx512bf16 ? 2e-2 : 1e-5
                let error = worstRelativeError(result.written, reference.written)
                #expect(error < tolerance, "\(label): \(error)")
                if path == .avx512bf16 { #expect(error > 0, "\(label): bfloat16 gave float32's exact result: is it running?") }
            }
        }
    }

    @Test("layer normalisation, ragged widths, in place or not", arguments: fastPaths)
    func layerNorm(path: KernelPath) throws {
        guard let fast = fastKernels(path) else { return }
        for width in [1, 7, 16, 24, 512, 768, 1000] {
            let rows = 5
            // An offset mean, as residual streams have, and a constant row.
            var x = randomFloats(rows * width, scale: 3, seed: UInt64(width)).map { $0 + 40 }
            for index in 0..<width { x[2 * width + index] = 1.5 }
            let weight = randomFloats(width, scale: 1, seed: 2).map { $0 + 1 }, bias = randomFloats(width, scale: 1, seed: 3)
            var results: [[Float]] = []
            for kernels in [portable, fast] {
                var y = [Float](repeating: 0, count: rows * width)
                kernels.layerNorm(x, into: &y, rows: rows, width: width, weight: weight, bias: bias, epsilon: 1e-5)
                var inPlace = x
                inPlace.withUnsafeMutableBufferPointer { buffer in
                    kernels.layerNorm(buffer.baseAddress!, into: buffer.baseAddress!, rows: rows, width: width, weight: weight,
                                      bias: bias, epsilon: 1e-5)
                }
                #expect(inPlace == y, "\(kernels.path) width \(width)")
                results.append(y)
            }
            #expect(worstRelativeError(results[1], results[0]) < 1e-4, "width \(width)")
        }
    }

    /// A depthwise convolution in double precision (zero padding, channels last).
    func depthwiseReference(_ x: [Float], height: Int, width: Int, channels: Int, weight: [Float], bias: [Float],
                            kernel: Int, stride: Int, padding: Int) -> (values: [Float], height: Int, width: Int) {
        let outHeight = (height + 2 * padding - kernel) / stride + 1, outWidth = (width + 2 * padding - kernel) / stride + 1
        var y = [Float](repeating: 0, count: 2 * outHeight * outWidth * channels)
        for image in 0..<2 {
            for oy in 0..<outHeight {
                for ox in 0..<outWidth {
                    for c in 0..<channels {
                        var sum = Double(bias[c])
                        for i in 0..<kernel {
                            for j in 0..<kernel {
                                let iy = oy * stride + i - padding, ix = ox * stride + j - padding
                                guard (0..<height).contains(iy), (0..<width).contains(ix) else { continue }
                                sum += Double(weight[(i * kernel + j) * channels + c]) * Double(x[((image * height + iy) * width + ix) * channels + c])
                            }
                        }
                        y[((image * outHeight + oy) * outWidth + ox) * channels + c] = Float(sum)
                    }
                }
            }
        }
        return (y, outHeight, outWidth)
    }

    @Test("depthwise convolutions (3 × 3 and 7 × 7, strides 1 and 2, ragged channel counts) equal double-precision sums",
          arguments: [KernelPath.portable] + fastPaths)
    func depthwise(path: KernelPath) throws {
        guard let kernels = path == .portable ? portable : fastKernels(path) else { return }
        // The fast path (3 × 3 and 7 × 7, strides 1 and 2: runs of 4, 6 or 8
        // output pixels, the last overlapping the one before, in registers of
        // 4, 8 or 16 channels, the rest pixel by pixel) meets images shorter
        // and narrower than the kernel, ragged channels, and rows of exactly
        // one run.
        for (kernel, stride, channels, height, width) in [(3, 1, 1, 5, 4), (3, 2, 17, 9, 8), (7, 1, 16, 8, 11), (7, 2, 64, 15, 14),
                                                           (3, 1, 40, 7, 7), (1, 1, 5, 3, 3),
                                                           (7, 1, 40, 9, 23), (3, 1, 20, 5, 13), (7, 1, 16, 4, 20),
                                                           (3, 1, 48, 3, 8), (3, 1, 36, 2, 10), (7, 2, 24, 6, 30), (3, 2, 20, 7, 17),
                                                           (7, 1, 32, 5, 6)] {
            let padding = kernel / 2
            let x = randomFloats(2 * height * width * channels, scale: 2, seed: UInt64(channels))
            let weight = randomFloats(kernel * kernel * channels, scale: 0.5, seed: 7), bias = randomFloats(channels, seed: 8)
            let expected = depthwiseReference(x, height: height, width: width, channels: channels, weight: weight, bias: bias,
                                              kernel: kernel, stride: stride, padding: padding)
            var y = [Float](repeating: .nan, count: expected.values.count)
            // Two calls of half the rows each: a core's share.
            let rows = 2 * expected.height, half = rows / 2
            for part in [0..<half, half..<rows] {
                kernels.depthwiseConvolution(x, height: height, width: width, channels: channels, weight: weight, bias: bias,
                                             kernel: kernel, stride: stride, padding: padding, into: &y,
                                             outHeight: expected.height, outWidth: expected.width, rows: part)
            }
            #expect(worstRelativeError(y, expected.values) < 1e-5, "\(path) kernel \(kernel) stride \(stride) channels \(channels)")
        }
    }

    @Test("4-bit vector scans are exact", arguments: fastPaths)
    func quantisedDots(path: KernelPath) throws {
        guard let fast = fastKernels(path) else { return }
        var generator = SplitMix64(seed: 5)
        for dimension in [64, 128, 512, 768] {
            let rows = 37   // not a multiple of the 4-row blocks
            let vectors4 = (0..<(rows * dimension / 2)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            let query4 = (0..<dimension).map { _ in Int8(Int(generator.next() % 255) - 127) }
            // The exact sums, written out.
            var expected4 = [Int32](repeating: 0, count: rows)
            for row in 0..<rows {
                for block in 0..<(dimension / 64) {
                    for j in 0..<32 {
                        let byte = vectors4[row * dimension / 2 + block * 32 + j]
                        expected4[row] += Int32(query4[block * 64 + j]) * Int32(byte & 15) + Int32(query4[block * 64 + 32 + j]) * Int32(byte >> 4)
                    }
                }
            }
            for kernels in [portable, fast] {
                var out4 = [Int32](repeating: 0, count: rows)
                kernels.dotU4(query: query4, rows: vectors4, count: rows, dimension: dimension, into: &out4)
                #expect(out4 == expected4, "\(kernels.path) u4 \(dimension)")
            }
        }
    }

    @Test("float16 rows picked by number (unaligned, ragged dimensions) score within float rounding of exact sums",
          arguments: fastPaths)
    func halfDots(path: KernelPath) throws {
        guard let fast = fastKernels(path) else { return }
        var generator = SplitMix64(seed: 11)
        for dimension in [512, 768, 100, 17, 1] {
            let stored = 41
            let values = (0..<(stored * dimension)).map { _ in Float(Double(generator.next() % 20001) / 10000 - 1) }
            // One byte first: the rows start unaligned.
            var bytes: [UInt8] = [0x77]
            for value in values { bytes += withUnsafeBytes(of: Float16(value).bitPattern.littleEndian, Array.init) }
            let query = (0..<dimension).map { _ in Float(Double(generator.next() % 20001) / 10000 - 1) }
            let picked: [Int64] = [40, 0, 7, 7, 39, 12, 3, 25, 1]   // out of order, one twice, first and last
            var expected = [Double](repeating: 0, count: picked.count)
            for (index, row) in picked.enumerated() {
                for k in 0..<dimension {
                    expected[index] += Double(query[k]) * Double(Float(Float16(values[Int(row) * dimension + k])))
                }
            }
            for kernels in [portable, fast] {
                var out = [Float](repeating: .nan, count: picked.count + 1)
                bytes.withUnsafeBytes { raw in
                    query.withUnsafeBufferPointer { q in
                        picked.withUnsafeBufferPointer { kernels.dotHalves(q, halves: raw.baseAddress! + 1, rows: $0, into: &out) }
                    }
                }
                #expect(out[picked.count].isNaN, "\(kernels.path) wrote past the rows")
                for index in picked.indices {
                    #expect(abs(Double(out[index]) - expected[index]) < 1e-6 * Double(dimension), "\(kernels.path) \(dimension) row \(picked[index])")
                }
            }
        }
    }
}
