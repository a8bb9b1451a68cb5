import Compute

/// The text transformer: CLIP's, causal (open_clip CLIP.encode_text,
/// transformers CLIPTextTransformer + text_projection), or SigLIP's,
/// bidirectional over the sequence padded to the context length, its last
/// position through a head with a bias (transformers SiglipTextTransformer).
struct TextTower: Sendable {
    let configuration: TextConfiguration
    /// `vocabulary × width`.
    let tokenEmbedding: EmbeddingTable
    /// `contextLength × width`.
    let positionalEmbedding: [Float]
    let transformer: Transformer
    let finalNorm: LayerNorm
    let projection: Linear
    let pooling: TextPooling

    init(reader: WeightReader, names: CheckpointNames, configuration: TextConfiguration, embeddingSize: Int,
         pooling: TextPooling) throws(CLIPError) {
        self.configuration = configuration
        self.pooling = pooling
        let width = configuration.transformer.width
        tokenEmbedding = try reader.embeddingTable(names.tokenEmbedding, rows: configuration.vocabularySize, width: width)
        positionalEmbedding = try reader.tensor(names.textPositionalEmbedding, shape: [configuration.contextLength, width])
        var blocks: [TransformerBlock] = []
        for index in 0..<configuration.transformer.layers {
            // The attention output projections stay float32 in an int8 text
            // tower: 8% of its products, half of its int8 error on a random
            // ViT-B/32 (bench quality: worst caption cosine 0.9994 → 0.9996).
            blocks.append(try names.block(reader, prefix: names.textBlocks, index: index, configuration.transformer,
                                          style: names.textBlockStyle,
                                          attentionOutput: Self.keepsAttentionOutputInFloat(configuration) ? .fp32 : nil))
        }
        transformer = Transformer(blocks: blocks)
        finalNorm = try reader.layerNorm(names.textFinalNorm, width: width, epsilon: configuration.transformer.layerNormEpsilon)
        if case .siglip = configuration.architecture {
            projection = try reader.linear(weight: names.textProjection, bias: names.textProjectionBias, inputs: width,
                                           outputs: embeddingSize, precision: .fp32)
        } else {
            projection = try names.projection(reader, name: names.textProjection, width: width, embedding: embeddingSize)
        }
    }

    /// Whether an int8 tower keeps its attention output projections in
    /// float32: CLIP's (a query's ten tokens make them cheap), not SigLIP's,
    /// which reads 64 positions: there they were a quarter of a query's time.
    static func keepsAttentionOutputInFloat(_ configuration: TextConfiguration) -> Bool {
        if case .siglip = configuration.architecture { return false }
        return true
    }

    /// Whether it reads whole context-length sequences, bidirectionally (SigLIP's).
    var readsPaddedSequences: Bool {
        if case .siglip = configuration.architecture { return true }
        return configuration.bidirectional
    }

    /// The id that pads a shorter sequence (CLIPModel resolves a SigLIP
    /// tower's before building it).
    var padId: Int? {
        if case let .siglip(padId) = configuration.architecture { return padId }
        return configuration.bidirectional ? configuration.padId : nil
    }

    /// The position whose final state is the sequence's embedding.
    func pooledPosition(_ ids: [Int]) -> Int {
        switch pooling {
        case .argmax:
            var best = 0
            for (index, id) in ids.enumerated() where id > ids[best] { best = index }
            return best
        case let .firstToken(id):
            return ids.firstIndex(of: id) ?? 0
        case .last:
            return configuration.contextLength - 1
        }
    }

    /// Embeddings (before L2 normalisation) of token sequences, each at most
    /// `contextLength` ids below `vocabularySize` (the tokenizer guarantees both).
    ///
    /// With causal attention a position never sees the ones after it, so each
    /// sequence only runs up to its pooled position: padding to the context
    /// length would not change the result and would cost up to 10× the time.
    /// SigLIP's and MobileCLIP's attention is bidirectional and unmasked, so
    /// their sequences are padded to the context length with the padding
    /// id, as they were trained: every position, the padding's too, changes
    /// every state.
    func encode(tokens sequences: [[Int]]) -> Matrix {
        let width = configuration.transformer.width
        let padded = readsPaddedSequences, padId = self.padId
        let pooled = sequences.map(pooledPosition)
        let length = padded ? configuration.contextLength : (pooled.max() ?? 0) + 1
        let count = sequences.count
        var x = Matrix(zeros: count * length, width)
        x.values.withUnsafeMutableBufferPointer { target in
            for (sequence, ids) in sequences.enumerated() {
                precondition(ids.count <= configuration.contextLength)
                for position in 0..<(padded ? length : min(length, ids.count)) {
                    guard let id = position < ids.count ? ids[position] : padId else { preconditionFailure("no padding id") }
                    precondition(id >= 0 && id < configuration.vocabularySize, "token id out of range")
                    let out = (sequence * length + position) * width
                    tokenEmbedding.withRow(id) { row in
                        for index in 0..<width {
                            target[out + index] = row[index] + positionalEmbedding[position * width + index]
                        }
                    }
                }
            }
        }
        let states = transformer.output(x, sequences: count, tokens: length, causal: !padded, at: pooled)
        return projection(finalNorm(states))
    }
}
