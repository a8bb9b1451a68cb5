import CLIP
import Foundation

/// Models with random weights, written as open_clip hub folders
/// (`open_clip_config.json` + `open_clip_model.safetensors`, F32), or for
/// SigLIP as transformers folders (config.json, model.safetensors, a
/// tokenizer.json of the configuration's size), and loaded back as a user's
/// model is: benchmarks and tests get a model of any shape without shipping
/// weights.
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
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if configuration.vision.architecture == .siglip {
            try writer.write(to: directory + "/model.safetensors")
            try SiglipFiles.write(configuration, to: directory)
            return
        }
        try writer.write(to: directory + "/open_clip_model.safetensors")
        var timm: (tower: String, pool: String)?
        switch configuration.vision.architecture {
        case let .fastvit(tower): timm = (tower, "avg")
        case let .timm(tower): timm = (tower, "token")
        case .clip, .siglip: break
        }
        if let (tower, pool) = timm {
            // As open_clip's MobileCLIP2-*.json, and its preprocess_cfg.
            let config: [String: Any] = [
                "model_cfg": ["embed_dim": configuration.embeddingSize, "custom_text": true,
                              "vision_cfg": ["timm_model_name": tower, "timm_model_pretrained": false, "timm_pool": pool,
                                             "timm_proj": NSNull(), "image_size": configuration.vision.imageSize],
                              "text_cfg": ["context_length": configuration.text.contextLength, "vocab_size": configuration.text.vocabularySize,
                                           "width": configuration.text.transformer.width, "heads": configuration.text.transformer.heads,
                                           "layers": configuration.text.transformer.layers, "no_causal_mask": configuration.text.bidirectional]],
                "preprocess_cfg": ["mean": [0, 0, 0], "std": [1, 1, 1], "interpolation": "bilinear", "resize_mode": "shortest"],
            ]
            try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]).write(to: URL(fileURLWithPath: directory + "/open_clip_config.json"))
            return
        }
        try encoder.encode(OpenCLIPConfig(configuration)).write(to: URL(fileURLWithPath: directory + "/open_clip_config.json"))
    }

    /// A transformers SiglipModel folder's other files: config.json, a
    /// Gemma-style tokenizer.json of the configuration's vocabulary size
    /// (special tokens, the 256 byte pieces, printable ASCII and "▁", then
    /// filler pieces; no merges), tokenizer_config.json, preprocessor_config.json.
    enum SiglipFiles {
        static func write(_ configuration: ModelConfiguration, to directory: String) throws {
            func tower(_ transformer: TransformerConfiguration) -> [String: Any] {
                ["hidden_size": transformer.width, "num_hidden_layers": transformer.layers, "num_attention_heads": transformer.heads,
                 "intermediate_size": transformer.mlpWidth, "hidden_act": "gelu_pytorch_tanh", "layer_norm_eps": 1e-6]
            }
            var vision = tower(configuration.vision.transformer)
            vision["image_size"] = configuration.vision.imageSize
            vision["patch_size"] = configuration.vision.patchSize
            var text = tower(configuration.text.transformer)
            text["vocab_size"] = configuration.text.vocabularySize
            text["max_position_embeddings"] = configuration.text.contextLength
            text["projection_size"] = configuration.embeddingSize
            text["pad_token_id"] = 0
            text["eos_token_id"] = 1
            let config: [String: Any] = ["architectures": ["SiglipModel"], "model_type": "siglip", "vision_config": vision, "text_config": text]
            try write(config, to: directory + "/config.json")

            var vocabulary: [String: Int] = [:]
            for (index, token) in ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"].enumerated() { vocabulary[token] = index }
            for byte in 0..<256 { vocabulary["<0x" + String(format: "%02X", byte) + ">"] = 5 + byte }
            for scalar in Array(0x21...0x7E).map({ String(UnicodeScalar(UInt8($0))) }) + ["▁"] { vocabulary[scalar] = vocabulary.count }
            while vocabulary.count < configuration.text.vocabularySize { vocabulary["▁filler\(vocabulary.count)"] = vocabulary.count }
            let tokenizer: [String: Any] = [
                "version": "1.0",
                "added_tokens": ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"].enumerated().map { index, token in
                    ["id": index, "content": token, "special": true, "normalized": false, "lstrip": false, "rstrip": false, "single_word": false]
                },
                "normalizer": ["type": "Replace", "pattern": ["String": " "], "content": "▁"],
                "pre_tokenizer": NSNull(),
                "post_processor": ["type": "TemplateProcessing",
                                   "single": [["Sequence": ["id": "A", "type_id": 0]], ["SpecialToken": ["id": "<eos>", "type_id": 0]]],
                                   "special_tokens": ["<eos>": ["id": "<eos>", "ids": [1], "tokens": ["<eos>"]]]],
                "model": ["type": "BPE", "vocab": vocabulary, "merges": [String](), "byte_fallback": true, "fuse_unk": true,
                          "unk_token": "<unk>", "dropout": NSNull(), "ignore_merges": false],
            ]
            try write(tokenizer, to: directory + "/tokenizer.json")
            try write(["add_bos_token": false, "add_eos_token": true, "tokenizer_class": "GemmaTokenizer"], to: directory + "/tokenizer_config.json")
            try write(["image_processor_type": "SiglipImageProcessor", "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
                       "resample": 2, "rescale_factor": 1.0 / 255,
                       "size": ["height": configuration.vision.imageSize, "width": configuration.vision.imageSize]],
                      to: directory + "/preprocessor_config.json")
        }

        private static func write(_ object: Any, to path: String) throws {
            try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]).write(to: URL(fileURLWithPath: path))
        }
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
            // FastViT's BatchNorms as fresh ones, layer scales at 1.
            if name.hasSuffix("running_var") || name.hasSuffix(".gamma") { return constant(1) }
            if name.hasSuffix("running_mean") { return constant(0) }
            if name.contains(".bn.") || name.contains(".identity.") { return constant(name.hasSuffix(".weight") ? 1 : 0) }
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
