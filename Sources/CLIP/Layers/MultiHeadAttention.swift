import Compute

/// Multi-head self-attention (torch.nn.MultiheadAttention, transformers
/// CLIPAttention): one fused projection to queries, keys and values, scaled
/// dot-product attention per head, an output projection.
struct MultiHeadAttention: Sendable {
    /// `3·width × width`: the query, key and value projections stacked in that order.
    let inProjection: Linear
    let outProjection: Linear
    let heads: Int
    /// The products at reduced precision (an int8 tower's: see
    /// `Kernels.attentionHead(reduced:)`).
    var reduced = false

    var width: Int { outProjection.outputs }

    /// Attention over `sequences` sequences of `tokens` tokens each, stacked in
    /// the rows of `x`; the result is added to `residual`.
    ///
    /// With `queries`, only one position per sequence attends (the one whose
    /// output is pooled after the last block) and `residual` has one row per
    /// sequence: the other positions' outputs would be thrown away.
    func apply(_ x: Matrix, sequences: Int, tokens: Int, causal: Bool, queries: [Int]? = nil,
               addingTo residual: inout Matrix) {
        let width = self.width, heads = self.heads
        let headWidth = width / heads
        let qkv = inProjection(x)                                   // rows × 3·width
        let outputRows = queries == nil ? x.rows : sequences
        var context = Matrix(uninitialized: outputRows, width)      // every head writes its columns
        let scale = 1 / Float(headWidth).squareRoot()

        let kernels = Kernels.active, reduced = self.reduced
        qkv.values.withUnsafeBufferPointer { qkvBuffer in
            context.values.withUnsafeMutableBufferPointer { contextBuffer in
                let source = SendablePointer(qkvBuffer.baseAddress!)
                let target = SendableMutablePointer(contextBuffer.baseAddress!)
                Parallel.run(sequences * heads) { item in
                    let sequence = item / heads, head = item % heads
                    let firstQuery = queries?[sequence] ?? 0
                    let queryCount = queries == nil ? tokens : 1
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: Kernels.attentionScratchCount(keys: tokens, width: headWidth))
                    defer { scratch.deallocate() }
                    let rows = source.pointer + sequence * tokens * 3 * width
                    let outputRow = queries == nil ? sequence * tokens : sequence
                    kernels.attentionHead(queries: rows + firstQuery * 3 * width + head * headWidth,
                                          keys: rows + width + head * headWidth,
                                          values: rows + 2 * width + head * headWidth,
                                          stride: 3 * width,
                                          into: target.pointer + outputRow * width + head * headWidth, outputStride: width,
                                          queryCount: queryCount, keyCount: tokens, width: headWidth, scale: scale,
                                          causalFirst: causal ? firstQuery : -1, scratch: scratch, reduced: reduced)
                }
            }
        }
        outProjection.apply(context, into: &residual, accumulate: true)
    }
}
