import Compute

/// The MLP of a transformer block: Linear → activation → Linear.
struct MLP: Sendable {
    let fc: Linear
    let projection: Linear
    let activation: Activation

    /// residual += projection(activation(fc(x)))
    func apply(_ x: Matrix, addingTo residual: inout Matrix) {
        let activation: Kernels.Activation
        switch self.activation {
        case .gelu: activation = .gelu
        case .geluTanh: activation = .geluTanh
        case .quickGelu: activation = .quickGelu
        }
        projection.apply(fc(x), into: &residual, accumulate: true, activatingInput: activation)
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

    /// The block's output at one position per sequence (`positions[s]` of
    /// sequence s), as a `sequences × width` matrix: all positions are still
    /// keys and values, but only these are queries and go through the MLP.
    func output(_ x: Matrix, sequences: Int, tokens: Int, causal: Bool, at positions: [Int]) -> Matrix {
        var rows = Matrix(uninitialized: sequences, x.columns)
        for (sequence, position) in positions.enumerated() {
            let from = (sequence * tokens + position) * x.columns
            rows.values.replaceSubrange((sequence * x.columns)..<((sequence + 1) * x.columns),
                                        with: x.values[from..<(from + x.columns)])
        }
        attention.apply(attentionNorm(x), sequences: sequences, tokens: tokens, causal: causal,
                        queries: positions, addingTo: &rows)
        mlp.apply(mlpNorm(rows), addingTo: &rows)
        return rows
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

    /// The final states at one position per sequence (`sequences × width`):
    /// the last block only computes those rows.
    func output(_ x: Matrix, sequences: Int, tokens: Int, causal: Bool, at positions: [Int]) -> Matrix {
        var x = x
        for block in blocks.dropLast() {
            block.apply(&x, sequences: sequences, tokens: tokens, causal: causal)
        }
        return blocks.last!.output(x, sequences: sequences, tokens: tokens, causal: causal, at: positions)
    }
}
