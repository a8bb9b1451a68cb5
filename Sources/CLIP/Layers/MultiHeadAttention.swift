import Dispatch

/// Multi-head self-attention (torch.nn.MultiheadAttention, transformers'
/// CLIPAttention): one fused projection to queries, keys and values, scaled
/// dot-product attention per head, an output projection.
struct MultiHeadAttention: Sendable {
    /// `3·width × width`: the query, key and value projections stacked in that order.
    let inProjection: Linear
    let outProjection: Linear
    let heads: Int

    var width: Int { outProjection.outputs }

    /// Attention over `sequences` sequences of `tokens` tokens each, stacked in
    /// the rows of `x`. The result is added to `residual`.
    func apply(_ x: Matrix, sequences: Int, tokens: Int, causal: Bool, addingTo residual: inout Matrix) {
        let width = self.width
        let headWidth = width / heads
        let qkv = inProjection(x)                          // rows × 3·width
        var context = Matrix(zeros: x.rows, width)         // rows × width
        let scale = 1 / Float(headWidth).squareRoot()

        qkv.values.withUnsafeBufferPointer { qkvBuffer in
            context.values.withUnsafeMutableBufferPointer { contextBuffer in
                let qkvBase = qkvBuffer.baseAddress!
                let contextBase = UnsafeMutableSendablePointer(contextBuffer.baseAddress!)
                let qkvSendable = UnsafeSendablePointer(qkvBase)
                let work = sequences * heads
                let run: @Sendable (Int) -> Void = { item in
                    let sequence = item / heads, head = item % heads
                    let scores = UnsafeMutablePointer<Float>.allocate(capacity: tokens * tokens)
                    defer { scores.deallocate() }
                    let rowsBase = qkvSendable.pointer + sequence * tokens * 3 * width
                    let query = rowsBase + head * headWidth
                    let key = rowsBase + width + head * headWidth
                    let value = rowsBase + 2 * width + head * headWidth
                    // scores = scale · Q·Kᵀ   (tokens × tokens)
                    BLAS.gemm(transposeB: true, rows: tokens, columns: tokens, inner: headWidth, alpha: scale,
                              a: query, lda: 3 * width, b: key, ldb: 3 * width, c: scores, ldc: tokens)
                    Kernels.softmaxRows(scores, rows: tokens, columns: tokens, stride: tokens, causal: causal)
                    // context[:, head] = scores · V   (tokens × headWidth)
                    BLAS.gemm(rows: tokens, columns: headWidth, inner: tokens,
                              a: scores, lda: tokens, b: value, ldb: 3 * width,
                              c: contextBase.pointer + sequence * tokens * width + head * headWidth, ldc: width)
                }
                if work > 1 {
                    DispatchQueue.concurrentPerform(iterations: work, execute: run)
                } else {
                    run(0)
                }
            }
        }
        outProjection.apply(context, into: &residual, accumulate: true)
    }
}

/// Raw pointers handed to worker threads that write disjoint regions.
struct UnsafeMutableSendablePointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    init(_ pointer: UnsafeMutablePointer<Float>) { self.pointer = pointer }
}

struct UnsafeSendablePointer: @unchecked Sendable {
    let pointer: UnsafePointer<Float>
    init(_ pointer: UnsafePointer<Float>) { self.pointer = pointer }
}
