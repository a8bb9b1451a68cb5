import Compute

/// A BERT text tower with a projection (transformers' ChineseCLIPTextModel
/// + text_projection, as ChineseCLIPModel.get_text_features runs it):
/// word + position + token-type embeddings and a LayerNorm; post-LayerNorm
/// blocks (x = LN(x + attn(x)); x = LN(x + mlp(x))) with bidirectional
/// attention; the `[CLS]` state projected.
struct BertTextTower: Sendable {
    /// A post-LayerNorm block (BertLayer).
    struct Block: Sendable {
        let attention: MultiHeadAttention
        let attentionNorm: LayerNorm
        let mlp: MLP
        let outputNorm: LayerNorm

        /// The block's output for every position of one sequence, or with
        /// `onlyFirst`, for its first position alone (the pooled one).
        func apply(_ x: Matrix, tokens: Int, onlyFirst: Bool) -> Matrix {
            var y: Matrix
            if onlyFirst {
                y = Matrix(uninitialized: 1, x.columns)
                y.values.replaceSubrange(0..<x.columns, with: x.values[0..<x.columns])
                attention.apply(x, sequences: 1, tokens: tokens, causal: false, queries: [0], addingTo: &y)
            } else {
                y = x
                attention.apply(x, sequences: 1, tokens: tokens, causal: false, addingTo: &y)
            }
            let attended = attentionNorm(y)
            var output = attended
            mlp.apply(attended, addingTo: &output)
            return outputNorm(output)
        }
    }

    let configuration: TextConfiguration
    let wordEmbedding: EmbeddingTable
    let positionEmbedding: [Float]
    /// Row 0 of the token-type table: every token of a query is of type 0.
    let tokenType: [Float]
    let embeddingNorm: LayerNorm
    let blocks: [Block]
    let projection: Linear

    init(reader: WeightReader, configuration: TextConfiguration, embeddingSize: Int, typeVocabularySize: Int) throws(CLIPError) {
        self.configuration = configuration
        let transformer = configuration.transformer
        let width = transformer.width, eps = transformer.layerNormEpsilon
        wordEmbedding = try reader.embeddingTable(BertNames.wordEmbedding, rows: configuration.vocabularySize, width: width)
        positionEmbedding = try reader.tensor(BertNames.positionEmbedding, shape: [configuration.contextLength, width])
        tokenType = Array(try reader.tensor(BertNames.tokenTypeEmbedding, shape: [typeVocabularySize, width])[0..<width])
        embeddingNorm = try reader.layerNorm(BertNames.embeddingNorm, width: width, epsilon: eps)
        var blocks: [Block] = []
        for index in 0..<transformer.layers {
            let base = BertNames.layer(index)
            let parts = ["query", "key", "value"].map { base + "attention.self.\($0)" }
            var biases: [Float] = []
            for part in parts { biases += try reader.tensor(part + ".bias", shape: [width]) }
            let inProjection = try reader.linear(key: base + "attention.self.qkv.weight", sources: parts.map { ($0 + ".weight", [width, width]) },
                                                 bias: biases, inputs: width, outputs: 3 * width) { Array($0.joined()) }
            // As in CLIP's text tower, the attention output projection stays
            // float32 in int8.
            let outProjection = try reader.linear(weight: base + "attention.output.dense.weight", bias: base + "attention.output.dense.bias",
                                                  inputs: width, outputs: width, precision: .fp32)
            blocks.append(Block(
                attention: MultiHeadAttention(inProjection: inProjection, outProjection: outProjection, heads: transformer.heads),
                attentionNorm: try reader.layerNorm(base + "attention.output.LayerNorm", width: width, epsilon: eps),
                mlp: MLP(fc: try reader.linear(weight: base + "intermediate.dense.weight", bias: base + "intermediate.dense.bias",
                                               inputs: width, outputs: transformer.mlpWidth),
                         projection: try reader.linear(weight: base + "output.dense.weight", bias: base + "output.dense.bias",
                                                       inputs: transformer.mlpWidth, outputs: width),
                         activation: transformer.activation),
                outputNorm: try reader.layerNorm(base + "output.LayerNorm", width: width, epsilon: eps)))
        }
        self.blocks = blocks
        projection = try reader.linear(weight: BertNames.projection, bias: nil, inputs: width, outputs: embeddingSize, precision: .fp32)
    }

    /// Embeddings (before L2 normalisation) of token sequences, each at most
    /// `contextLength` ids below `vocabularySize`, `[CLS]` first. Each runs
    /// alone: attention is bidirectional, so padding would need a mask.
    func encode(tokens sequences: [[Int]]) -> Matrix {
        let width = configuration.transformer.width
        var pooled = Matrix(uninitialized: sequences.count, width)
        for (index, ids) in sequences.enumerated() {
            precondition(!ids.isEmpty && ids.count <= configuration.contextLength)
            var x = Matrix(zeros: ids.count, width)
            x.values.withUnsafeMutableBufferPointer { target in
                for (position, id) in ids.enumerated() {
                    precondition(id >= 0 && id < configuration.vocabularySize, "token id out of range")
                    wordEmbedding.withRow(id) { row in
                        for column in 0..<width {
                            target[position * width + column] = row[column] + tokenType[column] + positionEmbedding[position * width + column]
                        }
                    }
                }
            }
            x = embeddingNorm(x)
            for (depth, block) in blocks.enumerated() {
                x = block.apply(x, tokens: ids.count, onlyFirst: depth == blocks.count - 1)
            }
            pooled.values.replaceSubrange((index * width)..<((index + 1) * width), with: x.values[0..<width])
        }
        return projection(pooled)
    }
}
