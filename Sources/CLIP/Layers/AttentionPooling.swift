import Compute

/// Multi-head attention pooling (SigLIP's `SiglipMultiheadAttentionPoolingHead`,
/// timm's `AttentionPoolLatent`): one learned probe attends over all of a
/// sequence's states through torch.nn.MultiheadAttention, then
/// `y = y + mlp(layernorm(y))`; y is the sequence's embedding.
///
/// The probe is a constant, so its query (probe·W_qᵀ + b_q) is computed
/// once, when the weights are read; each image pays only for the keys and
/// values of its states.
struct AttentionPooling: Sendable {
    /// `width`: the probe's query, already projected.
    let query: [Float]
    /// `2·width × width`: the key and value projections stacked.
    let keyValue: Linear
    let outProjection: Linear
    let norm: LayerNorm
    let mlp: MLP
    let heads: Int
    /// The products at reduced precision (an int8 tower's).
    var reduced = false

    var width: Int { outProjection.outputs }

    /// The pooled state of each of `sequences` sequences of `tokens` rows of `x`.
    func callAsFunction(_ x: Matrix, sequences: Int, tokens: Int) -> Matrix {
        let width = self.width, heads = self.heads, headWidth = width / heads
        let keysAndValues = keyValue(x)                              // rows × 2·width
        var context = Matrix(uninitialized: sequences, width)
        let scale = 1 / Float(headWidth).squareRoot()
        let kernels = Kernels.active, reduced = self.reduced
        query.withUnsafeBufferPointer { queryBuffer in
            keysAndValues.values.withUnsafeBufferPointer { kvBuffer in
                context.values.withUnsafeMutableBufferPointer { contextBuffer in
                    let query = SendablePointer(queryBuffer.baseAddress!), source = SendablePointer(kvBuffer.baseAddress!)
                    let target = SendableMutablePointer(contextBuffer.baseAddress!)
                    Parallel.run(sequences * heads) { item in
                        let sequence = item / heads, head = item % heads
                        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: Kernels.attentionScratchCount(keys: tokens, width: headWidth))
                        defer { scratch.deallocate() }
                        let rows = source.pointer + sequence * tokens * 2 * width
                        kernels.attentionHead(queries: query.pointer + head * headWidth,
                                              keys: rows + head * headWidth, values: rows + width + head * headWidth,
                                              stride: 2 * width,
                                              into: target.pointer + sequence * width + head * headWidth, outputStride: width,
                                              queryCount: 1, keyCount: tokens, width: headWidth, scale: scale,
                                              causalFirst: -1, scratch: scratch, reduced: reduced)
                    }
                }
            }
        }
        var pooled = outProjection(context)
        mlp.apply(norm(pooled), addingTo: &pooled)
        return pooled
    }
}
