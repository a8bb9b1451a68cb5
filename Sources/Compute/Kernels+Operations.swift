import CKernels

/// The element-wise, attention and quantised-scan kernels, on raw row-major
/// buffers. Shapes were checked by whoever built the buffers; nothing here
/// checks them again.
extension Kernels {
    /// The activations between a transformer MLP's two products.
    public enum Activation: Sendable {
        case gelu, geluTanh, quickGelu

        var cValue: ps_activation {
            switch self {
            case .gelu: return PS_ACTIVATION_GELU
            case .geluTanh: return PS_ACTIVATION_GELU_TANH
            case .quickGelu: return PS_ACTIVATION_QUICK_GELU
            }
        }
    }

    /// Applies `activation` in place.
    public func activate(_ activation: Activation, _ x: UnsafeMutablePointer<Float>, count: Int) {
        switch activation {
        case .gelu: table.gelu(x, count)
        case .geluTanh: table.gelu_tanh(x, count)
        case .quickGelu: table.quick_gelu(x, count)
        }
    }

    /// x ← x·Φ(x) (torch.nn.GELU(), exact erf).
    public func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) { table.gelu(x, count) }

    /// GELU's tanh approximation (nn.GELU(approximate="tanh")).
    public func geluTanh(_ x: UnsafeMutablePointer<Float>, count: Int) { table.gelu_tanh(x, count) }

    /// x ← x·σ(1.702·x) (open_clip QuickGELU).
    public func quickGelu(_ x: UnsafeMutablePointer<Float>, count: Int) { table.quick_gelu(x, count) }

    /// Scaled dot-product attention of one head (see `ps_kernels.attention_head`):
    /// `queries` query rows against `keys` key and value rows, rows `stride`
    /// floats apart; `causalFirst` ≥ 0 is the position of the first query
    /// under a causal mask, -1 for none. `scratch` holds
    /// `attentionScratchCount(keys:width:)` floats.
    /// With `reduced`, at the precision an int8 tower can take (bfloat16
    /// products at the AVX-512 BF16 level; the float32 kernel elsewhere).
    public func attentionHead(queries q: UnsafePointer<Float>, keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>,
                              stride: Int, into out: UnsafeMutablePointer<Float>, outputStride: Int,
                              queryCount: Int, keyCount: Int, width: Int, scale: Float, causalFirst: Int,
                              scratch: UnsafeMutablePointer<Float>, reduced: Bool = false) {
        let head = reduced ? table.attention_head_reduced! : table.attention_head!
        head(q, k, v, stride, out, outputStride, queryCount, keyCount, width, scale, causalFirst, scratch)
    }

    /// Floats of scratch `attentionHead` needs for `keys` keys of `width` floats.
    public static func attentionScratchCount(keys: Int, width: Int) -> Int { ps_attention_scratch(keys, width) }

    /// y = (x − mean) / √(var + ε) · weight + bias for each row of `width`
    /// values (torch.nn.functional.layer_norm: biased variance); `x` and `y`
    /// may be the same rows.
    public func layerNorm(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, rows: Int, width: Int,
                          weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, epsilon: Float) {
        table.layer_norm(x, y, rows, width, weight, bias, epsilon)
    }

    /// A depthwise convolution of channels-last images (see
    /// `ps_kernels.depthwise_convolution`): output rows `rows` of
    /// images × outHeight, each `outWidth` pixels of `channels` floats;
    /// `weight` is kernel × kernel × channels.
    public func depthwiseConvolution(_ input: UnsafePointer<Float>, height: Int, width: Int, channels: Int,
                                     weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, kernel: Int, stride: Int, padding: Int,
                                     into out: UnsafeMutablePointer<Float>, outHeight: Int, outWidth: Int, rows: Range<Int>) {
        table.depthwise_convolution(input, height, width, channels, weight, bias, kernel, stride, padding, out, outHeight, outWidth,
                                    rows.lowerBound, rows.count)
    }

    /// out[i] = `query` · float16 row rows[i] (row n: the `query.count`
    /// little-endian halves at `halves` + 2 · query.count · n), summed in
    /// this level's order (for ranking; see `ps_kernels.dot_halves`).
    public func dotHalves(_ query: UnsafeBufferPointer<Float>, halves: UnsafeRawPointer, rows: UnsafeBufferPointer<Int64>,
                          into out: UnsafeMutablePointer<Float>) {
        guard rows.count > 0, let base = query.baseAddress else { return }
        table.dot_halves(base, halves.assumingMemoryBound(to: UInt8.self), rows.baseAddress!, rows.count, query.count, out)
    }

    /// The same for rows of 4-bit values packed two per byte in blocks of 64
    /// dimensions (see `ps_kernels.dot_u4`); `dimension` a multiple of 64.
    public func dotU4(query: UnsafePointer<Int8>, rows vectors: UnsafePointer<UInt8>, count rows: Int, dimension: Int,
                      into out: UnsafeMutablePointer<Int32>) {
        precondition(dimension % 64 == 0, "4-bit rows come in blocks of 64 dimensions")
        table.dot_u4(query, vectors, rows, dimension, out)
    }
}

/// Operations on whole vectors and rows, the same on every kernel path.
public enum VectorMath {
    /// `vector / ‖vector‖` (torch.nn.functional.normalize, eps 1e-12), the
    /// norm accumulated in double precision.
    public static func normalized(_ vector: [Float]) -> [Float] {
        var sum: Double = 0
        for value in vector { sum += Double(value) * Double(value) }
        let norm = max(sum.squareRoot(), 1e-12)
        return vector.map { Float(Double($0) / norm) }
    }

    /// Σ a·b in float32, left to right.
    public static func dot(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) -> Float {
        precondition(a.count == b.count, "vectors of different lengths")
        var sum: Float = 0
        for index in 0..<a.count { sum += a[index] * b[index] }
        return sum
    }

    /// The float16 values in `bytes` (little-endian, unaligned), exactly as
    /// `Float(Float16(bitPattern:))` gives them, a vector at a time.
    public static func floats(fromHalves bytes: UnsafeRawBufferPointer) -> [Float] {
        let count = bytes.count / 2
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 { ps_halves_to_floats(bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), count, buffer.baseAddress!) }
            initialized = count
        }
    }

    /// The float16 values in `bytes` (as `floats(fromHalves:)`) into `out`,
    /// which has room for `bytes.count / 2`.
    public static func decodeHalves(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutablePointer<Float>) {
        guard bytes.count >= 2 else { return }
        ps_halves_to_floats(bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), bytes.count / 2, out)
    }

    /// Quantises `values` to integers in [-limit, limit] with one scale,
    /// round(x / scale) with scale = max |x| / limit over the finite values
    /// (1 for all zeros); NaN and infinities become 0. Returns the scale.
    public static func quantize(_ values: UnsafeBufferPointer<Float>, limit: Int, into out: UnsafeMutablePointer<Int8>) -> Float {
        precondition(limit > 0 && limit <= 127)
        return ps_quantize(values.baseAddress, values.count, Int32(limit), out)
    }
}
