/// The MLP of a transformer block: Linear → activation → Linear.
struct MLP: Sendable {
    let fc: Linear
    let projection: Linear
    let activation: Activation

    /// residual += projection(activation(fc(x)))
    func apply(_ x: Matrix, addingTo residual: inout Matrix) {
        var hidden = fc(x)
        let count = hidden.values.count
        hidden.values.withUnsafeMutableBufferPointer { buffer in
            Kernels.activate(buffer.baseAddress!, count: count, activation)
        }
        projection.apply(hidden, into: &residual, accumulate: true)
    }
}

/// A pre-LayerNorm residual block (open_clip ResidualAttentionBlock,
/// transformers CLIPEncoderLayer):
/// x = x + attn(ln_1(x)); x = x + mlp(ln_2(x)).
struct TransformerBlock: Sendable {
    let attentionNorm: LayerNorm
    let attention: MultiHeadAttention
    let mlpNorm: LayerNorm
    let mlp: MLP

    func apply(_ x: inout Matrix, sequences: Int, tokens: Int, causal: Bool) {
        attention.apply(attentionNorm(x), sequences: sequences, tokens: tokens, causal: causal, addingTo: &x)
        mlp.apply(mlpNorm(x), addingTo: &x)
    }
}

/// A stack of blocks.
struct Transformer: Sendable {
    let blocks: [TransformerBlock]

    func apply(_ x: inout Matrix, sequences: Int, tokens: Int, causal: Bool) {
        for block in blocks {
            block.apply(&x, sequences: sequences, tokens: tokens, causal: causal)
        }
    }
}
