import CLIP
import Foundation

/// Models with random weights, written as open_clip hub folders
/// (`open_clip_config.json` + `open_clip_model.safetensors`, F32) and loaded
/// back as a user's model is: benchmarks and tests get a model of any shape
/// without shipping weights.
public enum RandomCheckpoint {
    /// Writes a model of `configuration`'s shape holding `towers` into
    /// `directory`, its values drawn from `seed` in the order the towers
    /// read their tensors (the same seed gives the same bytes).
    public static func write(_ configuration: ModelConfiguration, towers: CLIPModel.Towers, to directory: String, seed: UInt64 = 1) throws {
        var generator = SplitMix64(seed: seed)
        let initialisation = Initialisation(textLayers: configuration.text.transformer.layers)
        var writer = SafetensorsWriter()
        for tensor in try CLIPModel.checkpointTensors(configuration, towers: towers) {
            writer.tensors.append(.init(name: tensor.name, shape: tensor.shape, values: initialisation.values(tensor, &generator)))
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try writer.write(to: directory + "/open_clip_model.safetensors")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(OpenCLIPConfig(configuration)).write(to: URL(fileURLWithPath: directory + "/open_clip_config.json"))
    }

    /// The values open_clip draws for a model it creates without pretrained
    /// weights (`create_model("ViT-B-32", pretrained=None)`): its own random
    /// CLIP, input-sensitive (different photos' embeddings have a mean cosine
    /// near 0.5) and scaled as training starts from. The image tower keeps
    /// PyTorch's defaults (open_clip leaves its initialisation out): Linear
    /// and Conv2d weights and Linear biases uniform in ±1/√fan-in, the fused
    /// attention input projection Xavier-uniform with zero bias, the class
    /// and positional embeddings and the projection normal with deviation
    /// 1/√width. The text tower follows open_clip's `init_parameters`:
    /// token embedding σ 0.02, positions σ 0.01, attention input σ 1/√width,
    /// output projections σ 1/√width · 1/√(2 · layers), MLP input σ
    /// 1/√(2 · width), projection σ 1/√width. LayerNorms are 1 and 0.
    struct Initialisation {
        let textLayers: Int

        func values(_ tensor: TensorSpecification, _ generator: inout SplitMix64) -> [Float] {
            let name = tensor.name, shape = tensor.shape, count = shape.reduce(1, *)
            func constant(_ value: Float) -> [Float] { [Float](repeating: value, count: count) }
            func uniform(_ bound: Float) -> [Float] { (0..<count).map { _ in bound * (2 * generator.unitFloat() - 1) } }
            func normal(_ deviation: Float) -> [Float] { (0..<count).map { _ in deviation * generator.normalFloat() } }
            let lowered = name.lowercased()
            if ["ln_", "norm", "layrnorm", "layernorm"].contains(where: { lowered.contains($0) }) {
                return constant(name.hasSuffix(".weight") ? 1 : 0)
            }
            if name.hasSuffix("in_proj_bias") || name.hasSuffix("out_proj.bias") { return constant(0) }
            if name.hasSuffix("bias") { return uniform(1 / Float(max(tensor.fanIn ?? shape.last ?? 1, 1)).squareRoot()) }
            let columns = Float(shape.dropFirst().reduce(1, *)), width = Float(shape.last ?? 1)
            if name.hasPrefix("visual.") {
                if name.hasSuffix("class_embedding") || name.hasSuffix("positional_embedding") { return normal(1 / width.squareRoot()) }
                if name == "visual.proj" { return normal(1 / Float(shape[0]).squareRoot()) }
                if name.hasSuffix("in_proj_weight") { return uniform((6 / (Float(shape[0]) + columns)).squareRoot()) }
                return uniform(1 / columns.squareRoot())
            }
            let residual = 1 / width.squareRoot() / Float(2 * textLayers).squareRoot()
            if name.hasSuffix("token_embedding.weight") { return normal(0.02) }
            if name.hasSuffix("positional_embedding") { return normal(0.01) }
            if name.hasSuffix("in_proj_weight") { return normal(1 / width.squareRoot()) }
            if name.hasSuffix("out_proj.weight") { return normal(residual) }
            if name.hasSuffix("c_fc.weight") { return normal(1 / (2 * width).squareRoot()) }
            if name.hasSuffix("c_proj.weight") { return normal(1 / Float(shape[0]).squareRoot() / Float(2 * textLayers).squareRoot()) }
            if name.hasSuffix("text_projection") { return normal(1 / Float(shape[0]).squareRoot()) }
            return uniform(1 / columns.squareRoot())
        }
    }

    /// open_clip_config.json, the fields open_clip's `push_to_hf_hub` writes
    /// for a ViT CLIP.
    struct OpenCLIPConfig: Encodable {
        struct Vision: Encodable {
            let imageSize, patchSize, width, layers, headWidth: Int
            let mlpRatio: Double

            enum CodingKeys: String, CodingKey {
                case imageSize = "image_size", patchSize = "patch_size", width, layers, headWidth = "head_width", mlpRatio = "mlp_ratio"
            }
        }

        struct Text: Encodable {
            let contextLength, vocabSize, width, heads, layers: Int
            let mlpRatio: Double

            enum CodingKeys: String, CodingKey {
                case contextLength = "context_length", vocabSize = "vocab_size", width, heads, layers, mlpRatio = "mlp_ratio"
            }
        }

        struct Model: Encodable {
            let embedDim: Int
            let quickGelu: Bool
            let visionCfg: Vision
            let textCfg: Text

            enum CodingKeys: String, CodingKey { case embedDim = "embed_dim", quickGelu = "quick_gelu", visionCfg = "vision_cfg", textCfg = "text_cfg" }
        }

        struct Preprocess: Encodable {
            let mean: [Float]
            let std: [Float]
        }

        let modelCfg: Model
        let preprocessCfg: Preprocess

        enum CodingKeys: String, CodingKey { case modelCfg = "model_cfg", preprocessCfg = "preprocess_cfg" }

        init(_ configuration: ModelConfiguration) {
            let vision = configuration.vision, text = configuration.text
            modelCfg = Model(
                embedDim: configuration.embeddingSize, quickGelu: vision.transformer.activation == .quickGelu,
                visionCfg: Vision(imageSize: vision.imageSize, patchSize: vision.patchSize, width: vision.transformer.width,
                                  layers: vision.transformer.layers, headWidth: vision.transformer.headWidth,
                                  mlpRatio: Double(vision.transformer.mlpWidth) / Double(vision.transformer.width)),
                textCfg: Text(contextLength: text.contextLength, vocabSize: text.vocabularySize, width: text.transformer.width,
                              heads: text.transformer.heads, layers: text.transformer.layers,
                              mlpRatio: Double(text.transformer.mlpWidth) / Double(text.transformer.width)))
            preprocessCfg = Preprocess(mean: PreprocessConfiguration.openAIMean, std: PreprocessConfiguration.openAIStd)
        }
    }
}

extension SplitMix64 {
    /// Uniform in [0, 1), 24 bits.
    mutating func unitFloat() -> Float {
        Float(next() >> 40) / Float(1 << 24)
    }

    /// Standard normal (Box–Muller, one of the pair).
    mutating func normalFloat() -> Float {
        let u = (Double(next() >> 11) + 0.5) / Double(1 << 53), v = Double(next() >> 11) / Double(1 << 53)
        return Float((-2 * Foundation.log(u)).squareRoot() * Foundation.cos(2 * Double.pi * v))
    }
}
