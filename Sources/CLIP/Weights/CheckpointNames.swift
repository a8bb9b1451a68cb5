/// Tensor names of the two checkpoint layouts, declared in one place. Each
/// loader asks for a tensor by role; this type says what the role is called.
struct CheckpointNames: Sendable {
    let layout: CheckpointLayout
    /// "" for open_clip's CLIP, "text." for its CustomTextCLIP.
    let openCLIPTextPrefix: String
    /// SigLIP: transformers' SiglipModel (its towers' own names for the
    /// parts CLIP does not have, and a few renamed ones), or open_clip's
    /// CustomTextCLIP with a timm image tower (`visual.trunk.`, timm's names).
    let siglip: Bool
    /// open_clip's MobileCLIP2-B and -L-14: a timm ViT with a class token
    /// (`visual.trunk.`, timm's names), its classifier head the projection.
    let timmClassToken: Bool

    init(layout: CheckpointLayout, openCLIPTextPrefix: String, siglip: Bool = false, timmClassToken: Bool = false) {
        self.layout = layout
        self.openCLIPTextPrefix = openCLIPTextPrefix
        self.siglip = siglip
        self.timmClassToken = timmClassToken
    }

    /// open_clip's names for a model whose image tower is `vision`: timm's
    /// under `visual.trunk.` for SigLIP's and the class-token ViTs.
    init(openCLIPTextPrefix: String, vision: VisionArchitecture) {
        var timm = false
        if case .timm = vision { timm = true }
        self.init(layout: .openCLIP, openCLIPTextPrefix: openCLIPTextPrefix, siglip: vision == .siglip, timmClassToken: timm)
    }

    /// How a layout names the parts of a transformer block.
    enum BlockStyle {
        /// open_clip's ResidualAttentionBlock: ln_1, attn.in_proj_*, ln_2, mlp.c_fc.
        case openCLIP
        /// transformers' encoder layers: layer_norm1, self_attn.{q,k,v}_proj, mlp.fc1.
        case transformers
        /// timm's Block: norm1, attn.qkv, attn.proj, norm2, mlp.fc1.
        case timm
    }

    /// open_clip's SigLIP and class-token ViTs: the image tower is timm's.
    private var timm: Bool { layout == .openCLIP && (siglip || timmClassToken) }
    var visionBlockStyle: BlockStyle { timm ? .timm : layout == .openCLIP ? .openCLIP : .transformers }
    var textBlockStyle: BlockStyle { layout == .openCLIP ? .openCLIP : .transformers }

    // MARK: Image tower

    var visionPrefix: String { layout == .openCLIP ? "visual." : "vision_model." }
    /// Prefixes owned by the image tower (for the unused-tensor check).
    var visionPrefixes: [String] { layout == .openCLIP || siglip ? [visionPrefix] : [visionPrefix, "visual_projection."] }
    var patchEmbedding: String {
        if timm { return "visual.trunk.patch_embed.proj.weight" }
        return layout == .openCLIP ? "visual.conv1.weight" : "vision_model.embeddings.patch_embedding.weight"
    }
    /// SigLIP's patch convolution has a bias.
    var patchEmbeddingBias: String { timm ? "visual.trunk.patch_embed.proj.bias" : "vision_model.embeddings.patch_embedding.bias" }
    /// SigLIP's attention pooling head.
    var poolingHead: String { timm ? "visual.trunk.attn_pool" : "vision_model.head" }
    var classEmbedding: String {
        if timm { return "visual.trunk.cls_token" }
        return layout == .openCLIP ? "visual.class_embedding" : "vision_model.embeddings.class_embedding"
    }
    /// timm keeps the class token's batch and sequence dimensions of 1.
    func classEmbeddingShape(width: Int) -> [Int] { timm ? [1, 1, width] : [width] }
    /// timm's ConvStem (MobileCLIP2-B): convolution `index`, `conv` and `bn`.
    func convolutionalStem(_ index: Int) -> String { "visual.trunk.patch_embed.backbone.\(index)" }
    var visionPositionalEmbedding: String {
        if timm { return "visual.trunk.pos_embed" }
        return layout == .openCLIP ? "visual.positional_embedding" : "vision_model.embeddings.position_embedding.weight"
    }
    /// The position embedding's shape for `tokens` tokens (timm keeps a
    /// batch dimension of 1).
    func visionPositionalEmbeddingShape(tokens: Int, width: Int) -> [Int] {
        timm ? [1, tokens, width] : [tokens, width]
    }
    var visionPreNorm: String {
        if timm { return "visual.trunk.norm_pre" }
        return layout == .openCLIP ? "visual.ln_pre" : "vision_model.pre_layrnorm"
    }
    var visionPostNorm: String {
        if timm { return "visual.trunk.norm" }
        return layout == .openCLIP ? "visual.ln_post" : "vision_model.post_layernorm"
    }
    var visionBlocks: String {
        if timm { return "visual.trunk.blocks" }
        return layout == .openCLIP ? "visual.transformer.resblocks" : "vision_model.encoder.layers"
    }
    /// open_clip: `width × embed` matrix used as x·P; transformers: nn.Linear weight `embed × width`.
    var visionProjection: String { layout == .openCLIP ? "visual.proj" : "visual_projection.weight" }

    /// The image tower's projection: timm's classifier head (an nn.Linear
    /// with a bias) for its class-token ViTs, else as `projection` reads it.
    func visionProjection(_ reader: WeightReader, width: Int, embedding: Int) throws(CLIPError) -> Linear {
        guard timm else { return try projection(reader, name: visionProjection, width: width, embedding: embedding) }
        return try reader.linear(weight: "visual.trunk.head.weight", bias: "visual.trunk.head.bias", inputs: width, outputs: embedding,
                                 precision: .fp32)
    }

    // MARK: Text tower

    /// Prefixes owned by the text tower (for the unused-tensor check).
    var textPrefixes: [String] {
        if siglip { return ["text_model."] }
        if layout == .transformers { return ["text_model.", "text_projection."] }
        if !openCLIPTextPrefix.isEmpty { return [openCLIPTextPrefix] }
        return ["token_embedding.", "positional_embedding", "transformer.", "ln_final.", "text_projection"]
    }
    var tokenEmbedding: String {
        layout == .openCLIP ? openCLIPTextPrefix + "token_embedding.weight" : "text_model.embeddings.token_embedding.weight"
    }
    var textPositionalEmbedding: String {
        layout == .openCLIP ? openCLIPTextPrefix + "positional_embedding" : "text_model.embeddings.position_embedding.weight"
    }
    var textBlocks: String {
        layout == .openCLIP ? openCLIPTextPrefix + "transformer.resblocks" : "text_model.encoder.layers"
    }
    var textFinalNorm: String { layout == .openCLIP ? openCLIPTextPrefix + "ln_final" : "text_model.final_layer_norm" }
    /// open_clip: `width × embed` matrix used as x·P; transformers: nn.Linear weight `embed × width`.
    var textProjection: String {
        if siglip { return layout == .openCLIP ? openCLIPTextPrefix + "text_projection.weight" : "text_model.head.weight" }
        return layout == .openCLIP ? openCLIPTextPrefix + "text_projection" : "text_projection.weight"
    }
    /// SigLIP's text head has a bias (open_clip's proj_bias).
    var textProjectionBias: String { layout == .openCLIP ? openCLIPTextPrefix + "text_projection.bias" : "text_model.head.bias" }

    // MARK: Blocks

    /// Reads block `index` of the stack whose blocks live under `prefix`,
    /// named in `style`; `attentionOutput` overrides the precision of the
    /// attention's output projection.
    func block(_ reader: WeightReader, prefix: String, index: Int, _ config: TransformerConfiguration, style: BlockStyle,
               attentionOutput: Precision? = nil) throws(CLIPError) -> TransformerBlock {
        let width = config.width, eps = config.layerNormEpsilon
        let base = "\(prefix).\(index)."
        switch style {
        case .openCLIP, .timm:
            // Both pack q, k and v into one matrix, query rows first.
            let names = style == .timm
                ? (norm1: "norm1", inWeight: "attn.qkv.weight", inBias: "attn.qkv.bias", out: "attn.proj", norm2: "norm2", fc: "mlp.fc1", projection: "mlp.fc2")
                : (norm1: "ln_1", inWeight: "attn.in_proj_weight", inBias: "attn.in_proj_bias", out: "attn.out_proj", norm2: "ln_2", fc: "mlp.c_fc", projection: "mlp.c_proj")
            let inProjection = try reader.linear(weight: base + names.inWeight, bias: base + names.inBias,
                                                 inputs: width, outputs: 3 * width)
            return TransformerBlock(
                attentionNorm: try reader.layerNorm(base + names.norm1, width: width, epsilon: eps),
                attention: MultiHeadAttention(
                    inProjection: inProjection,
                    outProjection: try reader.linear(weight: base + names.out + ".weight", bias: base + names.out + ".bias",
                                                     inputs: width, outputs: width, precision: attentionOutput),
                    heads: config.heads, reduced: reader.precision == .int8),
                mlpNorm: try reader.layerNorm(base + names.norm2, width: width, epsilon: eps),
                mlp: MLP(fc: try reader.linear(weight: base + names.fc + ".weight", bias: base + names.fc + ".bias",
                                               inputs: width, outputs: config.mlpWidth),
                         projection: try reader.linear(weight: base + names.projection + ".weight", bias: base + names.projection + ".bias",
                                                       inputs: config.mlpWidth, outputs: width),
                         activation: config.activation))
        case .transformers:
            // q, k and v are separate nn.Linear layers; stack them into one.
            let parts = ["q_proj", "k_proj", "v_proj"].map { base + "self_attn.\($0)" }
            var biases: [Float] = []
            for part in parts { biases += try reader.tensor(part + ".bias", shape: [width]) }
            let inProjection = try reader.linear(key: base + "self_attn.qkv_proj.weight", sources: parts.map { ($0 + ".weight", [width, width]) },
                                                 bias: biases, inputs: width, outputs: 3 * width) { Array($0.joined()) }
            return TransformerBlock(
                attentionNorm: try reader.layerNorm(base + "layer_norm1", width: width, epsilon: eps),
                attention: MultiHeadAttention(
                    inProjection: inProjection,
                    outProjection: try reader.linear(weight: base + "self_attn.out_proj.weight", bias: base + "self_attn.out_proj.bias",
                                                     inputs: width, outputs: width, precision: attentionOutput),
                    heads: config.heads, reduced: reader.precision == .int8),
                mlpNorm: try reader.layerNorm(base + "layer_norm2", width: width, epsilon: eps),
                mlp: MLP(fc: try reader.linear(weight: base + "mlp.fc1.weight", bias: base + "mlp.fc1.bias",
                                               inputs: width, outputs: config.mlpWidth),
                         projection: try reader.linear(weight: base + "mlp.fc2.weight", bias: base + "mlp.fc2.bias",
                                                       inputs: config.mlpWidth, outputs: width),
                         activation: config.activation))
        }
    }

    /// SigLIP's attention pooling head, whose query is the probe's, computed
    /// here once: transformers' torch.nn.MultiheadAttention with a packed
    /// `in_proj` (query rows first), or timm's AttentionPoolLatent (`latent`,
    /// `q`, and `kv` with the key rows first).
    func attentionPooling(_ reader: WeightReader, _ config: TransformerConfiguration) throws(CLIPError) -> AttentionPooling {
        let width = config.width, base = poolingHead + "."
        let names = timm
            ? (probe: "latent", query: "q.weight", queryRows: width, keyValue: "kv.weight", keyValueRows: 2 * width, out: "proj", norm: "norm")
            : (probe: "probe", query: "attention.in_proj_weight", queryRows: 3 * width, keyValue: "attention.in_proj_weight",
               keyValueRows: 3 * width, out: "attention.out_proj", norm: "layernorm")
        let probe = try reader.vector(base + names.probe, count: width)
        // The biases of the query rows, then of the key and value rows.
        let biases = timm
            ? try reader.tensor(base + "q.bias", shape: [width], fanIn: width) + reader.tensor(base + "kv.bias", shape: [2 * width], fanIn: width)
            : try reader.tensor(base + "attention.in_proj_bias", shape: [3 * width], fanIn: width)
        let queryWeight = try reader.tensor(base + names.query, shape: [names.queryRows, width])
        var query = Array(biases[0..<width])
        for row in 0..<width {
            var sum: Float = 0
            for column in 0..<width { sum += queryWeight[row * width + column] * probe[column] }
            query[row] += sum
        }
        let keyValue = try reader.linear(key: base + "attention.kv_proj.weight", sources: [(base + names.keyValue, [names.keyValueRows, width])],
                                         bias: Array(biases[width...]), inputs: width, outputs: 2 * width) { Array($0[0].suffix(2 * width * width)) }
        return AttentionPooling(
            query: query, keyValue: keyValue,
            outProjection: try reader.linear(weight: base + names.out + ".weight", bias: base + names.out + ".bias",
                                             inputs: width, outputs: width),
            norm: try reader.layerNorm(base + names.norm, width: width, epsilon: config.layerNormEpsilon),
            mlp: MLP(fc: try reader.linear(weight: base + "mlp.fc1.weight", bias: base + "mlp.fc1.bias", inputs: width, outputs: config.mlpWidth),
                     projection: try reader.linear(weight: base + "mlp.fc2.weight", bias: base + "mlp.fc2.bias",
                                                   inputs: config.mlpWidth, outputs: width),
                     activation: config.activation),
            heads: config.heads, reduced: reader.precision == .int8)
    }

    /// The final projection as a Linear (`embed × width`), whichever way the
    /// layout stores it; float32 in every precision (one row per image or
    /// text: its cost is nothing, its rounding would be the embedding's).
    func projection(_ reader: WeightReader, name: String, width: Int, embedding: Int) throws(CLIPError) -> Linear {
        switch layout {
        case .openCLIP:
            return try reader.linear(key: name, sources: [(name, [width, embedding])], bias: nil, inputs: width, outputs: embedding,
                                     precision: .fp32) { tensors in
                let matrix = tensors[0]
                var transposed = [Float](repeating: 0, count: matrix.count)
                for row in 0..<width {
                    for column in 0..<embedding {
                        transposed[column * width + row] = matrix[row * embedding + column]
                    }
                }
                return transposed
            }
        case .transformers:
            return try reader.linear(weight: name, bias: nil, inputs: width, outputs: embedding, precision: .fp32)
        }
    }
}

/// Tensor names of a BERT text tower as transformers' `ChineseCLIPModel`
/// stores it (`ChineseCLIPTextModel` without its pooler).
enum BertNames {
    static let prefix = "text_model."
    static let wordEmbedding = "text_model.embeddings.word_embeddings.weight"
    static let positionEmbedding = "text_model.embeddings.position_embeddings.weight"
    static let tokenTypeEmbedding = "text_model.embeddings.token_type_embeddings.weight"
    static let embeddingNorm = "text_model.embeddings.LayerNorm"
    static let projection = "text_projection.weight"

    static func layer(_ index: Int) -> String { "text_model.encoder.layer.\(index)." }
}
