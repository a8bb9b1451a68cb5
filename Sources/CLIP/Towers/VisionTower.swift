import Compute

/// The ViT image tower (open_clip VisionTransformer, transformers
/// CLIPVisionTransformer + visual_projection, transformers
/// SiglipVisionTransformer, timm's VisionTransformer as open_clip's
/// MobileCLIP2-B and -L-14 configure it).
struct VisionTower: Sendable {
    /// How the final states become an embedding.
    enum Pooling: Sendable {
        /// CLIP: the class token, through LayerNorm and the projection.
        case classToken(postNorm: LayerNorm, projection: Linear)
        /// SigLIP: every state through LayerNorm, then attention pooling.
        case attention(postNorm: LayerNorm, head: AttentionPooling)
    }

    /// A convolution whose kernel is its stride over the previous layer's
    /// grid (timm's ConvStem after its first layer), as a Linear over
    /// gathered patches whose columns run (y, x, channel); GELU after it
    /// when `activated`.
    struct PatchMerging: Sendable {
        let linear: Linear
        let kernel: Int
        let activated: Bool
    }

    let configuration: VisionConfiguration
    /// The first convolution (kernel = stride = `firstPatch`) as a Linear
    /// over flattened patches: `outputs × (3·firstPatch²)`, columns ordered
    /// (channel, y, x); GELU after it when `firstActivated`.
    let patchEmbedding: Linear
    let firstPatch: Int
    let firstActivated: Bool
    /// The rest of a convolutional stem; empty for a single patch convolution.
    let merging: [PatchMerging]
    /// The class token; nil for SigLIP.
    let classEmbedding: [Float]?
    /// `positions × width`; row 0 belongs to the class token when
    /// `classPosition`, else the rows are the patches'.
    let positionalEmbedding: [Float]
    let classPosition: Bool
    /// CLIP's ln_pre (timm's norm_pre); nil for SigLIP and MobileCLIP2-B.
    let preNorm: LayerNorm?
    let transformer: Transformer
    let pooling: Pooling

    init(reader: WeightReader, names: CheckpointNames, configuration: VisionConfiguration, embeddingSize: Int) throws(CLIPError) {
        self.configuration = configuration
        let width = configuration.transformer.width
        let eps = configuration.transformer.layerNormEpsilon
        let siglip = configuration.architecture == .siglip
        var timm: TimmVisionTowers.ClassTokenTower?
        if case let .timm(name) = configuration.architecture {
            guard let tower = TimmVisionTowers.classToken[name] else {
                throw .unsupportedArchitecture(path: reader.path, reason: "timm image tower \"\(name)\"")
            }
            timm = tower
        }
        if case let .convolutional(kernels, channels) = timm?.stem {
            // timm's ConvStem: BatchNorm folded into the convolutions before
            // the last (float32: a folded BatchNorm can scale a channel far
            // beyond the rest, which int8 rows share a scale with; they are
            // 3 % of MobileCLIP2-B's products), the last with its bias.
            var inputs = 3
            var layers: [(Linear, Int)] = []
            for (index, (kernel, outputs)) in zip(kernels, channels).enumerated() {
                let prefix = names.convolutionalStem(index)
                let linear: Linear
                if index < kernels.count - 1 {
                    var folded = FoldedConvolution(outputs: outputs, inputsPerGroup: inputs, kernel: kernel)
                    try folded.add(reader, convolution: prefix, kernel: kernel)
                    let weight = index == 0 ? folded.weight : Self.patchesLast(folded.weight, outputs: outputs, inputs: inputs, kernel: kernel)
                    linear = Linear(weight: weight, bias: folded.bias, inputs: inputs * kernel * kernel, outputs: outputs, precision: .fp32)
                } else {
                    let bias = try reader.tensor(prefix + ".conv.bias", shape: [outputs], fanIn: inputs * kernel * kernel)
                    linear = try reader.linear(key: prefix + ".conv.weight", sources: [(prefix + ".conv.weight", [outputs, inputs, kernel, kernel])],
                                               bias: bias, inputs: inputs * kernel * kernel, outputs: outputs) { tensors in
                        Self.patchesLast(tensors[0], outputs: outputs, inputs: inputs, kernel: kernel)
                    }
                }
                layers.append((linear, kernel))
                inputs = outputs
            }
            patchEmbedding = layers[0].0
            firstPatch = layers[0].1
            firstActivated = true
            merging = layers.dropFirst().enumerated().map { PatchMerging(linear: $1.0, kernel: $1.1, activated: $0 < layers.count - 2) }
        } else {
            let patch = configuration.patchSize
            // In the tower's precision: quantising each patch's pixels moves a
            // random ViT-B/32's worst photo from cosine 0.99995 to 0.99994
            // against float32 (bench quality), for 6% more images per second.
            let patchBias = siglip ? try reader.tensor(names.patchEmbeddingBias, shape: [width], fanIn: 3 * patch * patch) : nil
            patchEmbedding = try reader.linear(key: names.patchEmbedding, sources: [(names.patchEmbedding, [width, 3, patch, patch])],
                                               bias: patchBias, inputs: 3 * patch * patch, outputs: width) { $0[0] }
            firstPatch = patch
            firstActivated = false
            merging = []
        }
        if !configuration.architecture.hasClassToken {
            classEmbedding = nil
        } else if timm != nil {
            classEmbedding = try reader.tensor(names.classEmbedding, shape: names.classEmbeddingShape(width: width))
        } else {
            classEmbedding = try reader.vector(names.classEmbedding, count: width)
        }
        classPosition = classEmbedding != nil && timm?.classPosition != false
        let positions = configuration.gridSize * configuration.gridSize + (classPosition ? 1 : 0)
        positionalEmbedding = try reader.tensor(names.visionPositionalEmbedding,
                                                shape: names.visionPositionalEmbeddingShape(tokens: positions, width: width))
        preNorm = siglip || timm?.preNorm == false ? nil : try reader.layerNorm(names.visionPreNorm, width: width, epsilon: eps)
        var blocks: [TransformerBlock] = []
        for index in 0..<configuration.transformer.layers {
            blocks.append(try names.block(reader, prefix: names.visionBlocks, index: index, configuration.transformer,
                                          style: names.visionBlockStyle))
        }
        transformer = Transformer(blocks: blocks)
        let postNorm = try reader.layerNorm(names.visionPostNorm, width: width, epsilon: eps)
        if siglip {
            pooling = .attention(postNorm: postNorm, head: try names.attentionPooling(reader, configuration.transformer))
        } else {
            pooling = .classToken(postNorm: postNorm, projection: try names.visionProjection(reader, width: width, embedding: embeddingSize))
        }
    }

    /// A convolution's weight (`outputs × inputs × k × k`) with each row's
    /// columns reordered (y, x, input), as `merge` gathers patches.
    static func patchesLast(_ weight: [Float], outputs: Int, inputs: Int, kernel: Int) -> [Float] {
        var reordered = weight
        for o in 0..<outputs {
            for i in 0..<inputs {
                for y in 0..<kernel {
                    for x in 0..<kernel {
                        reordered[((o * kernel + y) * kernel + x) * inputs + i] = weight[((o * inputs + i) * kernel + y) * kernel + x]
                    }
                }
            }
        }
        return reordered
    }

    /// `maps` (rows (image, y, x) of a `grid` × `grid` map per image) cut
    /// into `kernel` × `kernel` patches: one row per patch, columns (y, x, channel).
    static func merge(_ maps: Matrix, images: Int, grid: Int, kernel: Int) -> Matrix {
        let channels = maps.columns, outer = grid / kernel
        var patches = Matrix(uninitialized: images * outer * outer, kernel * kernel * channels)
        maps.values.withUnsafeBufferPointer { source in
            patches.values.withUnsafeMutableBufferPointer { target in
                var out = 0
                for image in 0..<images {
                    for gridY in 0..<outer {
                        for gridX in 0..<outer {
                            for y in 0..<kernel {
                                let row = (image * grid + gridY * kernel + y) * grid + gridX * kernel
                                let run = kernel * channels
                                target.baseAddress!.advanced(by: out).update(from: source.baseAddress!.advanced(by: row * channels), count: run)
                                out += run
                            }
                        }
                    }
                }
            }
        }
        return patches
    }

    /// Embeddings (before L2 normalisation) of `count` images given as
    /// normalised pixel values, NCHW: `count × 3 × imageSize × imageSize`.
    func encode(pixels: [Float], count: Int) -> Matrix {
        let size = configuration.imageSize, patch = firstPatch, grid = size / firstPatch
        let width = configuration.transformer.width, tokens = configuration.tokens
        precondition(pixels.count == count * 3 * size * size, "pixel batch does not match the image size")

        // 1. Cut each image into patches: one row per patch, (channel, y, x) order.
        let patchLength = 3 * patch * patch
        var patches = Matrix(uninitialized: count * grid * grid, patchLength)
        pixels.withUnsafeBufferPointer { source in
            patches.values.withUnsafeMutableBufferPointer { target in
                for image in 0..<count {
                    for gridY in 0..<grid {
                        for gridX in 0..<grid {
                            var out = ((image * grid + gridY) * grid + gridX) * patchLength
                            for channel in 0..<3 {
                                for y in 0..<patch {
                                    let row = ((image * 3 + channel) * size + gridY * patch + y) * size + gridX * patch
                                    for x in 0..<patch {
                                        target[out] = source[row + x]
                                        out += 1
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        // 2. Patch embedding (the convolution, or the stem's), class token
        //    first, plus positions.
        var embedded = patchEmbedding(patches)
        if firstActivated { Linear.activate(&embedded, .gelu) }
        var stemGrid = grid
        for layer in merging {
            embedded = layer.linear(Self.merge(embedded, images: count, grid: stemGrid, kernel: layer.kernel))
            if layer.activated { Linear.activate(&embedded, .gelu) }
            stemGrid /= layer.kernel
        }
        var x: Matrix
        if let classEmbedding {
            // The class token first, plus position row 0 when it has one
            // (CLIP's); with timm's no_embed_class the positions are the
            // patches' alone. Then each patch plus its position.
            let patchPositions = classPosition ? 1 : 0
            x = Matrix(uninitialized: count * tokens, width)
            x.values.withUnsafeMutableBufferPointer { target in
                embedded.values.withUnsafeBufferPointer { patchRows in
                    for image in 0..<count {
                        let first = image * tokens * width
                        for index in 0..<width {
                            target[first + index] = classPosition ? classEmbedding[index] + positionalEmbedding[index] : classEmbedding[index]
                        }
                        for patch in 0..<(tokens - 1) {
                            let out = first + (patch + 1) * width, from = (image * (tokens - 1) + patch) * width
                            let position = (patch + patchPositions) * width
                            for index in 0..<width { target[out + index] = patchRows[from + index] + positionalEmbedding[position + index] }
                        }
                    }
                }
            }
        } else {
            x = embedded
            x.values.withUnsafeMutableBufferPointer { target in
                for image in 0..<count {
                    for index in 0..<(tokens * width) { target[image * tokens * width + index] += positionalEmbedding[index] }
                }
            }
        }
        switch pooling {
        case let .classToken(postNorm, projection):
            // 3. ln_pre, the transformer (its last block only for the class
            //    token), ln_post on the class token, projection.
            if let preNorm { x = preNorm(x) }
            let classTokens = transformer.output(x, sequences: count, tokens: tokens, causal: false,
                                                 at: Array(repeating: 0, count: count))
            return projection(postNorm(classTokens))
        case let .attention(postNorm, head):
            // 3. The transformer over every state (the pooling head reads
            //    them all), post_layernorm, the pooling head.
            transformer.apply(&x, sequences: count, tokens: tokens, causal: false)
            return head(postNorm(x), sequences: count, tokens: tokens)
        }
    }
}
