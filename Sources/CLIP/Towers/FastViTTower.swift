import Compute
import Foundation

/// timm's FastViT "MCi" image towers, MobileCLIP 2's (timm/models/fastvit.py):
/// a MobileOne convolutional stem, stages of RepMixer blocks (depthwise
/// convolutions) and, in the last stage, a convolutional position encoding
/// and attention blocks, then a wider depthwise convolution with
/// squeeze-excite, the global mean, and the head into the embedding space.
///
/// Checkpoints store the training form: parallel convolution and
/// BatchNorm branches. They are folded at load, exactly as timm's
/// `reparameterize_model` folds them (the paper's inference form), together
/// with the BatchNorms after convolutions and the layer scales before
/// residual additions; what runs is one convolution where the checkpoint
/// has several.
struct FastViTTower: Sendable {
    /// The shape a timm model function fixes: none of it is in open_clip's
    /// configuration, which names the function only.
    struct Shape: Sendable, Equatable {
        var layers: [Int]
        var widths: [Int]
        var mlpRatio: Int
        /// Stages whose downsampling has squeeze-excite.
        var squeezedDownsamples: [Bool]
        /// The first attention stage (with a position encoding); those
        /// before it are RepMixer stages.
        var firstAttentionStage: Int
        /// Whether the stem's 3 × 3 MobileOne blocks have a 1 × 1 scale
        /// branch (timm's stem_use_scale_branch; not in mci3/mci4).
        var stemScaleBranch = true
        /// The attention blocks' norm_layer: BatchNorm (folded to a scale
        /// and shift) or, in mci3/mci4, LayerNorm2d (ε 1e-5) over the channels.
        var attentionLayerNorm = false

        var features: Int { 2 * widths.last! }
        /// The stem halves the size twice, each later stage once.
        var stride: Int { 4 << (widths.count - 1) }

        /// timm's names: fastvit_mci0/1/2 (MobileCLIP2-S0, the MobileCLIP
        /// S1 tower, MobileCLIP2-S2), fastvit_mci3/4 (MobileCLIP2-S3/S4: a
        /// fifth stage, attention in the last two, LayerNorm before it, no
        /// stem scale branch, no squeeze-excite in the downsamplings);
        /// "test_fastvit_mci" and "test_fastvit_mci3" are the test-size
        /// towers scripts/make-mobileclip-fixtures.py registers with timm.
        static let known: [String: Shape] = [
            "fastvit_mci0": Shape(layers: [2, 6, 10, 2], widths: [64, 128, 256, 512], mlpRatio: 3,
                                  squeezedDownsamples: [false, false, true, true], firstAttentionStage: 3),
            "fastvit_mci1": Shape(layers: [4, 12, 20, 4], widths: [64, 128, 256, 512], mlpRatio: 3,
                                  squeezedDownsamples: [false, false, true, true], firstAttentionStage: 3),
            "fastvit_mci2": Shape(layers: [4, 12, 24, 4], widths: [80, 160, 320, 640], mlpRatio: 3,
                                  squeezedDownsamples: [false, false, true, true], firstAttentionStage: 3),
            "test_fastvit_mci": Shape(layers: [1, 1, 1, 1], widths: [8, 16, 32, 64], mlpRatio: 3,
                                      squeezedDownsamples: [false, false, true, true], firstAttentionStage: 3),
            "fastvit_mci3": Shape(layers: [2, 12, 24, 4, 2], widths: [96, 192, 384, 768, 1536], mlpRatio: 4,
                                  squeezedDownsamples: [false, false, false, false, false], firstAttentionStage: 3,
                                  stemScaleBranch: false, attentionLayerNorm: true),
            "fastvit_mci4": Shape(layers: [2, 12, 24, 4, 4], widths: [128, 256, 512, 1024, 2048], mlpRatio: 4,
                                  squeezedDownsamples: [false, false, false, false, false], firstAttentionStage: 3,
                                  stemScaleBranch: false, attentionLayerNorm: true),
            "test_fastvit_mci3": Shape(layers: [1, 1, 1, 1, 1], widths: [8, 16, 32, 64, 128], mlpRatio: 4,
                                       squeezedDownsamples: [false, false, false, false, false], firstAttentionStage: 3,
                                       stemScaleBranch: false, attentionLayerNorm: true),
        ]
    }

    /// fc1, GELU, fc2 after a depthwise 7 × 7 convolution (timm ConvMlp),
    /// the block's layer scale folded into fc2; added to the input.
    struct ConvMLP: Sendable {
        let convolution: DepthwiseConvolution
        let fc1: Linear
        let fc2: Linear

        func apply(addingTo x: inout FeatureMaps) {
            let hidden = fc1(convolution(x).values)
            fc2.apply(hidden, into: &x.values, accumulate: true, activatingInput: .gelu)
        }
    }

    enum Block: Sendable {
        /// x + γ·(mixer(x) − norm(x)) folded into one depthwise 3 × 3
        /// convolution (residual included), then the MLP.
        case repMixer(mixer: DepthwiseConvolution, mlp: ConvMLP)
        /// x + γ₁·attention(norm(x)) (γ₁ in the output projection), then the MLP.
        case attention(norm: AttentionNorm, attention: MultiHeadAttention, mlp: ConvMLP)
    }

    /// What normalises an attention block's input.
    enum AttentionNorm: Sendable {
        /// BatchNorm, folded to a per-channel scale and shift.
        case batch(scale: [Float], shift: [Float])
        /// LayerNorm2d: each pixel over its channels (a row here).
        case layer(LayerNorm)

        func callAsFunction(_ x: Matrix) -> Matrix {
            switch self {
            case let .layer(norm):
                return norm(x)
            case let .batch(scale, shift):
                var normed = x
                let channels = x.columns
                for row in 0..<normed.rows {
                    for c in 0..<channels { normed.values[row * channels + c] = normed.values[row * channels + c] * scale[c] + shift[c] }
                }
                return normed
            }
        }
    }

    struct Downsample: Sendable {
        /// The 7 × 7 and 3 × 3 stride-2 branches folded, channels doubled.
        let large: DepthwiseConvolution
        let squeeze: SqueezeExcite?
        /// MobileOne 1 × 1 with its identity BatchNorm folded.
        let pointwise: Linear
    }

    struct Stage: Sendable {
        let downsample: Downsample?
        /// RepCPE: x + conv(x) folded into one depthwise 7 × 7.
        let position: DepthwiseConvolution?
        let blocks: [Block]
    }

    let shape: Shape
    let stem: (DenseConvolution, DepthwiseConvolution, Linear)
    let stages: [Stage]
    let final: DepthwiseConvolution
    let finalSqueeze: SqueezeExcite
    let head: Linear

    /// From `prefix` (open_clip's "visual.trunk.") of `reader`'s checkpoint.
    /// The kinds of pointwise layer, for choosing which run in int8.
    enum LayerKind: String, CaseIterable, Sendable { case stem, downsample, mlpIn, mlpOut, attention, head }

    /// What an int8 tower quantises: not the folded MobileOne 1 × 1 layers
    /// of the stem and the downsamplings. Their identity branches fold into
    /// the weights as a diagonal far larger than the rest, which then gets
    /// few of int8's levels: int8 everywhere takes the test tower's worst
    /// photo to cosine 0.990 against float32, and to 0.9988 with these in
    /// float32 (FastViTTests.int8Layers). They are a few percent of the
    /// products.
    static let int8Layers: Set<LayerKind> = [.mlpIn, .mlpOut, .attention, .head]

    /// Depthwise convolutions always run in float32; pointwise layers of
    /// `int8Layers` kinds in the reader's precision.
    init(reader: WeightReader, prefix: String, shape: Shape, embeddingSize: Int,
         int8Layers: Set<LayerKind> = FastViTTower.int8Layers) throws(CLIPError) {
        self.shape = shape
        func precisionOf(_ kind: LayerKind) -> Precision { int8Layers.contains(kind) ? reader.precision : .fp32 }
        for stage in 1..<shape.widths.count where shape.widths[stage] != 2 * shape.widths[stage - 1] {
            throw .invalidConfiguration(path: reader.path, reason: "FastViT stage \(stage) does not double its width")
        }
        func mobileOne(_ name: String, outputs: Int, inputsPerGroup: Int, kernel: Int, identity: Bool,
                       scaleBranch: Bool = true) throws(CLIPError) -> FoldedConvolution {
            var folded = FoldedConvolution(outputs: outputs, inputsPerGroup: inputsPerGroup, kernel: kernel)
            try folded.add(reader, convolution: prefix + name + ".conv_kxk.0", kernel: kernel)
            if kernel > 1, scaleBranch { try folded.add(reader, convolution: prefix + name + ".conv_scale", kernel: 1) }
            if identity { try folded.add(reader, identity: prefix + name + ".identity") }
            return folded
        }
        func pointwise(_ folded: FoldedConvolution, _ kind: LayerKind) -> Linear {
            Linear(weight: folded.weight, bias: folded.bias, inputs: folded.inputsPerGroup, outputs: folded.outputs, precision: precisionOf(kind))
        }
        /// `name`'s weight (a 1 × 1 convolution's, or with `matrix` a
        /// Linear's) and bias, each output times `scale` (a layer scale).
        func linear(_ name: String, inputs: Int, outputs: Int, scale: [Float]? = nil, matrix: Bool = false,
                    kind: LayerKind) throws(CLIPError) -> Linear {
            var weight = try reader.tensor(prefix + name + ".weight", shape: matrix ? [outputs, inputs] : [outputs, inputs, 1, 1])
            var bias = try reader.tensor(prefix + name + ".bias", shape: [outputs])
            if let scale {
                for o in 0..<outputs {
                    for i in 0..<inputs { weight[o * inputs + i] *= scale[o] }
                    bias[o] *= scale[o]
                }
            }
            return Linear(weight: weight, bias: bias, inputs: inputs, outputs: outputs, precision: precisionOf(kind))
        }
        func mlp(_ name: String, width: Int, gamma: [Float]) throws(CLIPError) -> ConvMLP {
            var convolution = FoldedConvolution(outputs: width, inputsPerGroup: 1, kernel: 7)
            try convolution.add(reader, convolution: prefix + name + ".conv", kernel: 7)
            let hidden = width * shape.mlpRatio
            return ConvMLP(convolution: DepthwiseConvolution(convolution, stride: 1),
                           fc1: try linear(name + ".fc1", inputs: width, outputs: hidden, kind: .mlpIn),
                           fc2: try linear(name + ".fc2", inputs: hidden, outputs: width, scale: gamma, kind: .mlpOut))
        }
        func gamma(_ name: String, width: Int) throws(CLIPError) -> [Float] {
            try reader.tensor(prefix + name, shape: [width, 1, 1])
        }

        let first = shape.widths[0]
        let scaleBranch = shape.stemScaleBranch
        stem = (DenseConvolution(try mobileOne("stem.0", outputs: first, inputsPerGroup: 3, kernel: 3, identity: false, scaleBranch: scaleBranch),
                                 stride: 2, precision: .fp32),
                DepthwiseConvolution(try mobileOne("stem.1", outputs: first, inputsPerGroup: 1, kernel: 3, identity: false, scaleBranch: scaleBranch),
                                     stride: 2),
                pointwise(try mobileOne("stem.2", outputs: first, inputsPerGroup: first, kernel: 1, identity: true), .stem))

        var stages: [Stage] = []
        for (index, width) in shape.widths.enumerated() {
            let name = "stages.\(index)"
            var downsample: Downsample?
            if index > 0 {
                var large = FoldedConvolution(outputs: width, inputsPerGroup: 1, kernel: 7)
                try large.add(reader, convolution: prefix + name + ".downsample.proj.0.large_conv", kernel: 7)
                try large.add(reader, convolution: prefix + name + ".downsample.proj.0.small_conv", kernel: 3)
                let squeeze = shape.squeezedDownsamples[index]
                    ? try SqueezeExcite(reader, prefix + name + ".downsample.proj.0.se", channels: width, reduced: Self.divisible(width / 4))
                    : nil
                downsample = Downsample(large: DepthwiseConvolution(large, stride: 2, multiplier: 2), squeeze: squeeze,
                                        pointwise: pointwise(try mobileOne(name + ".downsample.proj.1", outputs: width,
                                                                           inputsPerGroup: width, kernel: 1, identity: true), .downsample))
            }
            let attention = index >= shape.firstAttentionStage
            var position: DepthwiseConvolution?
            if attention {
                var folded = FoldedConvolution(outputs: width, inputsPerGroup: 1, kernel: 7)
                folded.add(weight: try reader.tensor(prefix + name + ".pos_emb.pos_enc.weight", shape: [width, 1, 7, 7]), kernel: 7)
                folded.bias = try reader.tensor(prefix + name + ".pos_emb.pos_enc.bias", shape: [width])
                folded.addIdentity()
                position = DepthwiseConvolution(folded, stride: 1)
            }
            var blocks: [Block] = []
            for block in 0..<shape.layers[index] {
                let name = name + ".blocks.\(block)"
                if attention {
                    let norm: AttentionNorm
                    if shape.attentionLayerNorm {
                        norm = .layer(try reader.layerNorm(prefix + name + ".norm", width: width, epsilon: 1e-5))
                    } else {
                        let (scale, shift) = try FoldedConvolution.batchNorm(reader, prefix + name + ".norm", channels: width)
                        norm = .batch(scale: scale, shift: shift)
                    }
                    let qkv = try reader.linear(weight: prefix + name + ".token_mixer.qkv.weight", bias: nil, inputs: width, outputs: 3 * width,
                                                precision: precisionOf(.attention))
                    let projection = try linear(name + ".token_mixer.proj", inputs: width, outputs: width,
                                                scale: try gamma(name + ".layer_scale_1.gamma", width: width), matrix: true, kind: .attention)
                    let attention = MultiHeadAttention(inProjection: qkv, outProjection: projection, heads: width / 32)
                    blocks.append(.attention(norm: norm, attention: attention,
                                             mlp: try mlp(name + ".mlp", width: width, gamma: try gamma(name + ".layer_scale_2.gamma", width: width))))
                } else {
                    let mixer = try mobileOne(name + ".token_mixer.mixer", outputs: width, inputsPerGroup: 1, kernel: 3, identity: true)
                    var norm = FoldedConvolution(outputs: width, inputsPerGroup: 1, kernel: 3)
                    try norm.add(reader, identity: prefix + name + ".token_mixer.norm.identity")
                    let layerScale = try gamma(name + ".token_mixer.layer_scale.gamma", width: width)
                    var folded = FoldedConvolution(outputs: width, inputsPerGroup: 1, kernel: 3)
                    for index in folded.weight.indices { folded.weight[index] = mixer.weight[index] - norm.weight[index] }
                    for o in 0..<width { folded.bias[o] = mixer.bias[o] - norm.bias[o] }
                    folded.scale(by: layerScale)
                    folded.addIdentity()
                    blocks.append(.repMixer(mixer: DepthwiseConvolution(folded, stride: 1),
                                            mlp: try mlp(name + ".mlp", width: width, gamma: try gamma(name + ".layer_scale.gamma", width: width))))
                }
            }
            stages.append(Stage(downsample: downsample, position: position, blocks: blocks))
        }
        self.stages = stages
        let last = shape.widths.last!
        final = DepthwiseConvolution(try mobileOne("final_conv", outputs: shape.features, inputsPerGroup: 1, kernel: 3, identity: false),
                                     stride: 1, multiplier: 2)
        finalSqueeze = try SqueezeExcite(reader, prefix + "final_conv.se", channels: 2 * last,
                                         reduced: Int((Double(2 * last) / 16).rounded()))
        head = try reader.linear(weight: prefix + "head.fc.weight", bias: prefix + "head.fc.bias", inputs: shape.features,
                                 outputs: embeddingSize, precision: precisionOf(.head))
    }

    /// timm's make_divisible(v, 8): the nearest multiple of 8, at least 8,
    /// and not below 90 % of v.
    static func divisible(_ value: Int) -> Int {
        var rounded = max(8, (value + 4) / 8 * 8)
        if Double(rounded) < 0.9 * Double(value) { rounded += 8 }
        return rounded
    }

    /// Embeddings (before L2 normalisation) of `count` images of `size` ×
    /// `size` pixels given NCHW, as the preprocessor makes them.
    func encode(pixels: [Float], count: Int, size: Int) -> Matrix {
        var x = FeatureMaps(pixels: pixels, images: count, size: size)
        x = stem.0(x)
        Self.gelu(&x)
        x = stem.1(x)
        Self.gelu(&x)
        x.values = stem.2(x.values)
        Self.gelu(&x)
        for stage in stages {
            if let downsample = stage.downsample {
                x = downsample.large(x)
                downsample.squeeze?(&x)
                Self.gelu(&x)
                x.values = downsample.pointwise(x.values)
                Self.gelu(&x)
            }
            if let position = stage.position { x = position(x) }
            for block in stage.blocks {
                switch block {
                case let .repMixer(mixer, mlp):
                    x = mixer(x)
                    mlp.apply(addingTo: &x)
                case let .attention(norm, attention, mlp):
                    attention.apply(norm(x.values), sequences: x.images, tokens: x.pixels, causal: false, addingTo: &x.values)
                    mlp.apply(addingTo: &x)
                }
            }
        }
        x = final(x)
        finalSqueeze(&x)
        Self.gelu(&x)
        return head(x.channelMeans())
    }

    private static func gelu(_ x: inout FeatureMaps) { Linear.activate(&x.values, .gelu) }
}
