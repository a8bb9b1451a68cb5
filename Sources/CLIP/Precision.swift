/// The arithmetic the matrix products of a model run in: what `--precision`
/// chooses, what an index records for its embeddings, and what a prepared
/// file holds. Layers that must stay float32 in an int8 tower say so when
/// they are read (`WeightReader.linear(…, precision: .fp32)`).
public enum Precision: String, Sendable, Codable, CaseIterable {
    /// float32 weights and activations.
    case fp32
    /// int8 weights (per output channel) and activations (per token), int32
    /// sums rescaled to float; LayerNorm, softmax, GELU and the residual
    /// stream stay float32.
    case int8
}
