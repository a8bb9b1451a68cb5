import Foundation

/// open_clip_config.json, as open_clip's `push_to_hf_hub` writes it. Absent
/// fields take open_clip's defaults (open_clip/model.py CLIPVisionCfg,
/// CLIPTextCfg; open_clip/transform.py PreprocessCfg). Two kinds of model:
/// CLIP (open_clip's own ViT and causal text transformer), and SigLIP (a
/// timm image tower named by `timm_model_name`, see `TimmVisionTowers`,
/// and a bidirectional text transformer with the Hugging Face tokenizer).
struct OpenCLIPConfigFile: Decodable {
    struct ModelConfig: Decodable {
        var embedDim: Int
        var quickGelu: Bool?
        var customText: Bool?
        var visionCfg: VisionConfig
        var textCfg: TextConfig

        enum CodingKeys: String, CodingKey {
            case embedDim = "embed_dim", quickGelu = "quick_gelu", customText = "custom_text"
            case visionCfg = "vision_cfg", textCfg = "text_cfg"
        }
    }

    struct VisionConfig: Decodable {
        var layers: LayerCount?            // default 12
        var width: Int?                    // default 768
        var headWidth: Int?                // default 64
        var mlpRatio: Double?              // default 4.0
        var patchSize: SquareSize?         // default 16
        var imageSize: SquareSize?         // default 224
        var noLnPre: Bool?
        var poolType: String?              // default "tok"
        var posEmbedType: String?          // default "learnable"
        var actKwargs: [String: LooseJSON]?
        var normKwargs: [String: LooseJSON]?
        var timmModelName: String?
        var timmPool: String?              // default "avg"
        var timmProj: String?              // default "linear"
        /// Fields that select a tower photosearch does not implement.
        var unsupported: [String: LooseJSON]

        enum CodingKeys: String, CodingKey, CaseIterable {
            case layers, width, headWidth = "head_width", mlpRatio = "mlp_ratio"
            case patchSize = "patch_size", imageSize = "image_size", noLnPre = "no_ln_pre"
            case poolType = "pool_type", posEmbedType = "pos_embed_type"
            case actKwargs = "act_kwargs", normKwargs = "norm_kwargs"
            case timmModelName = "timm_model_name", attentionalPool = "attentional_pool"
            case lsInitValue = "ls_init_value", blockType = "block_type", qkNorm = "qk_norm"
            case scaledCosineAttn = "scaled_cosine_attn", scaleHeads = "scale_heads"
            case scaleAttnInner = "scale_attn_inner", scaleAttn = "scale_attn", scaleFc = "scale_fc"
            case timmPool = "timm_pool", timmProj = "timm_proj", timmModelPretrained = "timm_model_pretrained"
        }

        static let unsupportedKeys: [CodingKeys] = [
            .attentionalPool, .lsInitValue, .qkNorm, .scaledCosineAttn,
            .scaleHeads, .scaleAttnInner, .scaleAttn, .scaleFc, .timmModelPretrained,
        ]

        init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            layers = try container.decodeIfPresent(LayerCount.self, forKey: .layers)
            width = try container.decodeIfPresent(Int.self, forKey: .width)
            headWidth = try container.decodeIfPresent(Int.self, forKey: .headWidth)
            mlpRatio = try container.decodeIfPresent(Double.self, forKey: .mlpRatio)
            patchSize = try container.decodeIfPresent(SquareSize.self, forKey: .patchSize)
            imageSize = try container.decodeIfPresent(SquareSize.self, forKey: .imageSize)
            noLnPre = try container.decodeIfPresent(Bool.self, forKey: .noLnPre)
            poolType = try container.decodeIfPresent(String.self, forKey: .poolType)
            posEmbedType = try container.decodeIfPresent(String.self, forKey: .posEmbedType)
            actKwargs = try container.decodeIfPresent([String: LooseJSON].self, forKey: .actKwargs)
            normKwargs = try container.decodeIfPresent([String: LooseJSON].self, forKey: .normKwargs)
            timmModelName = try container.decodeIfPresent(String.self, forKey: .timmModelName)
            timmPool = try container.decodeIfPresent(String.self, forKey: .timmPool)
            timmProj = try container.decodeIfPresent(String.self, forKey: .timmProj)
            unsupported = try OpenCLIPConfigFile.unsupportedFields(container, keys: Self.unsupportedKeys, blockType: .blockType)
        }
    }

    struct TextConfig: Decodable {
        var contextLength: Int?            // default 77
        var vocabSize: Int?                // default 49408
        var width: Int?                    // default 512
        var heads: Int?                    // default 8
        var layers: Int?                   // default 12
        var mlpRatio: Double?              // default 4.0
        var poolType: String?              // default "argmax"
        var eosId: Int?                    // default 2, used by pool_type "eos"
        var actKwargs: [String: LooseJSON]?
        var normKwargs: [String: LooseJSON]?
        var noCausalMask: Bool?
        var projBias: Bool?
        var hfTokenizerName: String?
        /// tokenizer_kwargs.clean (default "whitespace" for a Hugging Face
        /// tokenizer, "lower" for open_clip's own).
        var clean: String?
        var unsupported: [String: LooseJSON]

        enum CodingKeys: String, CodingKey {
            case contextLength = "context_length", vocabSize = "vocab_size", width, heads, layers
            case mlpRatio = "mlp_ratio", poolType = "pool_type", eosId = "eos_id"
            case actKwargs = "act_kwargs", normKwargs = "norm_kwargs"
            case hfModelName = "hf_model_name", hfTokenizerName = "hf_tokenizer_name"
            case lsInitValue = "ls_init_value", embedCls = "embed_cls", noCausalMask = "no_causal_mask"
            case projBias = "proj_bias", blockType = "block_type", qkNorm = "qk_norm"
            case scaledCosineAttn = "scaled_cosine_attn", scaleHeads = "scale_heads"
            case scaleAttnInner = "scale_attn_inner", scaleAttn = "scale_attn", scaleFc = "scale_fc"
            case tokenizerKwargs = "tokenizer_kwargs", projType = "proj_type"
        }

        static let unsupportedKeys: [CodingKeys] = [
            .hfModelName, .lsInitValue, .embedCls,
            .qkNorm, .scaledCosineAttn, .scaleHeads, .scaleAttnInner, .scaleAttn, .scaleFc,
        ]

        init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            contextLength = try container.decodeIfPresent(Int.self, forKey: .contextLength)
            vocabSize = try container.decodeIfPresent(Int.self, forKey: .vocabSize)
            width = try container.decodeIfPresent(Int.self, forKey: .width)
            heads = try container.decodeIfPresent(Int.self, forKey: .heads)
            layers = try container.decodeIfPresent(Int.self, forKey: .layers)
            mlpRatio = try container.decodeIfPresent(Double.self, forKey: .mlpRatio)
            poolType = try container.decodeIfPresent(String.self, forKey: .poolType)
            eosId = try container.decodeIfPresent(Int.self, forKey: .eosId)
            actKwargs = try container.decodeIfPresent([String: LooseJSON].self, forKey: .actKwargs)
            normKwargs = try container.decodeIfPresent([String: LooseJSON].self, forKey: .normKwargs)
            noCausalMask = try container.decodeIfPresent(Bool.self, forKey: .noCausalMask)
            projBias = try container.decodeIfPresent(Bool.self, forKey: .projBias)
            hfTokenizerName = try container.decodeIfPresent(String.self, forKey: .hfTokenizerName)
            var unsupported = try OpenCLIPConfigFile.unsupportedFields(container, keys: Self.unsupportedKeys, blockType: .blockType)
            if let projType = try container.decodeIfPresent(String.self, forKey: .projType), projType != "linear" {
                unsupported["proj_type"] = .string(projType)
            }
            if let kwargs = try container.decodeIfPresent([String: LooseJSON].self, forKey: .tokenizerKwargs), let value = kwargs["clean"] {
                guard case let .string(clean) = value else { throw DecodingError.dataCorruptedError(forKey: .tokenizerKwargs, in: container, debugDescription: "clean must be a string") }
                self.clean = clean
            }
            self.unsupported = unsupported
        }
    }

    struct PreprocessConfig: Decodable {
        var mean: [Float]?
        var std: [Float]?
        var interpolation: String?
        var resizeMode: String?

        enum CodingKeys: String, CodingKey {
            case mean, std, interpolation, resizeMode = "resize_mode"
        }
    }

    var modelCfg: ModelConfig
    var preprocessCfg: PreprocessConfig?

    /// Fields of a tower configuration that select features photosearch does
    /// not implement (set to anything but null, false, 0 or empty), and a
    /// block_type other than "default".
    static func unsupportedFields<Key: CodingKey>(_ container: KeyedDecodingContainer<Key>, keys: [Key], blockType: Key) throws -> [String: LooseJSON] {
        var unsupported: [String: LooseJSON] = [:]
        for key in keys {
            if let value = try container.decodeIfPresent(LooseJSON.self, forKey: key), !value.isEmptyOrFalse {
                unsupported[key.stringValue] = value
            }
        }
        if let type = try container.decodeIfPresent(String.self, forKey: blockType), type != "default" {
            unsupported["block_type"] = .string(type)
        }
        return unsupported
    }

    enum CodingKeys: String, CodingKey {
        case modelCfg = "model_cfg", preprocessCfg = "preprocess_cfg"
    }

    /// The model and preprocessing configuration, after checking that every
    /// field describes something photosearch implements.
    func resolve(path: String) throws(CLIPError) -> (ModelConfiguration, PreprocessConfiguration, textPrefix: String, textPooling: TextPooling) {
        let vision = modelCfg.visionCfg
        let text = modelCfg.textCfg
        func unsupported(_ reason: String) -> CLIPError { .unsupportedArchitecture(path: path, reason: reason) }
        func invalid(_ reason: String) -> CLIPError { .invalidConfiguration(path: path, reason: reason) }

        if case .resnet = vision.layers {
            throw unsupported("ResNet image tower (vision_cfg.layers is a list); only ViT towers are supported")
        }
        if let (key, _) = vision.unsupported.sorted(by: { $0.key < $1.key }).first {
            throw unsupported("vision_cfg.\(key) is set")
        }
        if let (key, _) = text.unsupported.sorted(by: { $0.key < $1.key }).first {
            throw unsupported("text_cfg.\(key) is set")
        }
        if let name = vision.timmModelName {
            if FastViTTower.Shape.known[name] != nil || TimmVisionTowers.classToken[name] != nil {
                return try resolveMobileCLIP(timmModelName: name, path: path)
            }
            return try resolveSiglip(timmModelName: name, path: path)
        }
        // Fields of open_clip's SigLIP configurations, not of its CLIP.
        for (key, value) in [("timm_pool", vision.timmPool), ("timm_proj", vision.timmProj)] where value != nil {
            throw unsupported("vision_cfg.\(key) is set without a timm_model_name")
        }
        if text.hfTokenizerName?.isEmpty == false { throw unsupported("text_cfg.hf_tokenizer_name is set") }
        if text.noCausalMask == true { throw unsupported("text_cfg.no_causal_mask is set") }
        if text.projBias == true { throw unsupported("text_cfg.proj_bias is set") }
        if let clean = text.clean, clean != "lower" { throw unsupported("text_cfg.tokenizer_kwargs.clean \"\(clean)\"") }
        if vision.noLnPre == true {
            throw unsupported("vision_cfg.no_ln_pre is set")
        }
        if let pool = vision.poolType, pool != "tok" {
            throw unsupported("vision_cfg.pool_type \"\(pool)\" (only \"tok\" is supported)")
        }
        if let kind = vision.posEmbedType, kind != "learnable", kind != "sin_cos_2d" {
            throw unsupported("vision_cfg.pos_embed_type \"\(kind)\"")
        }
        let textPooling: TextPooling
        switch text.poolType ?? "argmax" {
        case "argmax": textPooling = .argmax
        case "eos": textPooling = .firstToken(text.eosId ?? 2)
        case let other: throw unsupported("text_cfg.pool_type \"\(other)\" (only \"argmax\" and \"eos\" are supported)")
        }

        let quickGelu = modelCfg.quickGelu ?? false
        let visionActivation = try Self.activation(quickGelu: quickGelu, kwargs: vision.actKwargs, field: "vision_cfg", path: path)

        let imageSize = vision.imageSize ?? SquareSize(224)
        let patchSize = vision.patchSize ?? SquareSize(16)
        guard imageSize.height == imageSize.width else { throw unsupported("non-square image_size \(imageSize.height)x\(imageSize.width)") }
        guard patchSize.height == patchSize.width else { throw unsupported("non-square patch_size") }
        guard case let .transformer(visionLayers) = vision.layers ?? .transformer(12) else { throw unsupported("ResNet image tower") }
        let visionWidth = vision.width ?? 768
        let headWidth = vision.headWidth ?? 64
        guard headWidth > 0, visionWidth > 0, visionWidth % headWidth == 0 else {
            throw invalid("vision_cfg.width \(visionWidth) is not a multiple of head_width \(headWidth)")
        }
        guard patchSize.width > 0, imageSize.width >= patchSize.width, imageSize.width % patchSize.width == 0 else {
            throw invalid("vision_cfg.image_size \(imageSize.width) is not a multiple of patch_size \(patchSize.width)")
        }
        guard modelCfg.embedDim > 0 else { throw invalid("embed_dim must be positive") }

        let visionTransformer = TransformerConfiguration(
            width: visionWidth, layers: visionLayers, heads: visionWidth / headWidth,
            mlpWidth: try TransformerConfiguration.mlpWidth(width: visionWidth, ratio: vision.mlpRatio ?? 4.0, field: "vision_cfg", path: path),
            activation: visionActivation,
            layerNormEpsilon: try Self.epsilon(vision.normKwargs, field: "vision_cfg", path: path))
        let model = ModelConfiguration(
            layout: .openCLIP, embeddingSize: modelCfg.embedDim,
            vision: VisionConfiguration(imageSize: imageSize.width, patchSize: patchSize.width, transformer: visionTransformer),
            text: try textConfiguration(architecture: .clip, path: path))
        guard visionTransformer.layers > 0 else { throw invalid("layers must be positive") }
        try model.validate(path: path)
        return (model, try preprocessConfiguration(imageSize: imageSize.width, path: path), modelCfg.customText == true ? "text." : "", textPooling)
    }

    /// open_clip's SigLIP (CustomTextCLIP, as timm/ViT-B-16-SigLIP2-256 and
    /// the other timm/*SigLIP* hub repositories configure it): the timm
    /// image tower with its attention pooling as the embedding, and a
    /// bidirectional text tower pooled at the last position through a
    /// linear head with a bias, over the Hugging Face tokenizer's ids
    /// cleaned with "canonicalize".
    private func resolveSiglip(timmModelName name: String, path: String) throws(CLIPError) -> (ModelConfiguration, PreprocessConfiguration, textPrefix: String, textPooling: TextPooling) {
        let vision = modelCfg.visionCfg
        let text = modelCfg.textCfg
        func unsupported(_ reason: String) -> CLIPError { .unsupportedArchitecture(path: path, reason: reason) }
        guard let tower = TimmVisionTowers.siglip[name] else {
            let fastViTs = (FastViTTower.Shape.known.keys.filter { $0.hasPrefix("fastvit_") }
                + TimmVisionTowers.classToken.keys.filter { $0.hasPrefix("vit_") }).sorted().joined(separator: ", ")
            throw unsupported("vision_cfg.timm_model_name \"\(name)\" (supported timm image towers: MobileCLIP 2's \(fastViTs); SigLIP's \(TimmVisionTowers.siglip.keys.filter { $0.hasPrefix("vit_") }.sorted().joined(separator: ", ")))")
        }
        if vision.timmPool != "map" {
            throw unsupported("vision_cfg.timm_pool \"\(vision.timmPool ?? "avg")\" (a SigLIP tower needs its attention pooling, \"map\")")
        }
        if vision.timmProj != "none" {
            throw unsupported("vision_cfg.timm_proj \"\(vision.timmProj ?? "linear")\" (only \"none\": the pooled state is the embedding)")
        }
        // open_clip passes nothing else of vision_cfg to timm (layers, width…
        // are ignored, as there), but preprocesses at image_size.
        if let size = vision.imageSize, size.height != tower.imageSize || size.width != tower.imageSize {
            throw .invalidConfiguration(path: path, reason: "vision_cfg.image_size \(size.height)x\(size.width) differs from \(name)'s \(tower.imageSize)")
        }
        guard modelCfg.customText == true else { throw unsupported("a SigLIP configuration without custom_text") }
        guard text.noCausalMask == true else { throw unsupported("a SigLIP text tower with a causal mask (text_cfg.no_causal_mask is not set)") }
        guard text.projBias == true else { throw unsupported("a SigLIP text head without a bias (text_cfg.proj_bias is not set)") }
        guard text.poolType == "last" else {
            throw unsupported("text_cfg.pool_type \"\(text.poolType ?? "argmax")\" with a SigLIP image tower (only \"last\")")
        }
        guard text.hfTokenizerName?.isEmpty == false else { throw unsupported("a SigLIP text tower without text_cfg.hf_tokenizer_name") }
        guard text.clean == "canonicalize" else {
            throw unsupported("text_cfg.tokenizer_kwargs.clean \"\(text.clean ?? "whitespace")\" (SigLIP's is \"canonicalize\")")
        }
        guard modelCfg.embedDim == tower.width else {
            throw .invalidConfiguration(path: path, reason: "embed_dim \(modelCfg.embedDim) differs from the width of \(name) (\(tower.width)), its embedding with timm_proj \"none\"")
        }
        let model = ModelConfiguration(
            layout: .openCLIP, embeddingSize: modelCfg.embedDim,
            vision: VisionConfiguration(imageSize: tower.imageSize, patchSize: tower.patchSize, transformer: tower.transformer,
                                        architecture: .siglip),
            text: try textConfiguration(architecture: .siglip(padId: nil), path: path))
        try model.validate(path: path)
        return (model, try preprocessConfiguration(imageSize: tower.imageSize, path: path), "text.", .last)
    }

    /// open_clip's MobileCLIP 2 (CustomTextCLIP, as the timm/MobileCLIP2-*
    /// hub repositories and open_clip's MobileCLIP2-* configure it): a timm
    /// image tower whose classifier head (timm_proj null) is the
    /// projection, over the global mean of a FastViT MCi's features
    /// (S0, S2) or a ViT's class token (B, L-14), and open_clip's CLIP text
    /// tower, without its causal mask where no_causal_mask says so, over
    /// CLIP's BPE.
    private func resolveMobileCLIP(timmModelName name: String, path: String) throws(CLIPError) -> (ModelConfiguration, PreprocessConfiguration, textPrefix: String, textPooling: TextPooling) {
        let vision = modelCfg.visionCfg
        let text = modelCfg.textCfg
        func unsupported(_ reason: String) -> CLIPError { .unsupportedArchitecture(path: path, reason: reason) }
        let visionConfiguration: VisionConfiguration
        if let tower = TimmVisionTowers.classToken[name] {
            if vision.timmPool != "token" {
                throw unsupported("vision_cfg.timm_pool \"\(vision.timmPool ?? "avg")\" with \(name) (only \"token\")")
            }
            if let projection = vision.timmProj {
                throw unsupported("vision_cfg.timm_proj \"\(projection)\" with \(name) (only null: timm's head is the projection)")
            }
            // timm fixes the ViT's position embeddings for its own size.
            if let size = vision.imageSize, size.height != tower.imageSize || size.width != tower.imageSize {
                throw .invalidConfiguration(path: path, reason: "vision_cfg.image_size \(size.height)x\(size.width) differs from \(name)'s \(tower.imageSize)")
            }
            visionConfiguration = VisionConfiguration(imageSize: tower.imageSize, patchSize: tower.patchSize, transformer: tower.transformer,
                                                      architecture: .timm(name))
        } else {
            let shape = FastViTTower.Shape.known[name]!
            if let pool = vision.timmPool, pool != "avg" {
                throw unsupported("vision_cfg.timm_pool \"\(pool)\" with \(name) (only \"avg\")")
            }
            if let projection = vision.timmProj, projection != "none" {
                throw unsupported("vision_cfg.timm_proj \"\(projection)\" with \(name) (only null: timm's head is the projection)")
            }
            let size = vision.imageSize ?? SquareSize(256), stride = shape.stride
            guard size.height == size.width, size.width >= stride, size.width % stride == 0 else {
                throw .invalidConfiguration(path: path, reason: "vision_cfg.image_size \(size.height)x\(size.width) is not a square multiple of \(stride), \(name)'s stride")
            }
            let last = shape.widths.last!
            let attention = TransformerConfiguration(width: last, layers: shape.layers.last!, heads: last / 32, mlpWidth: last * shape.mlpRatio,
                                                     activation: .gelu, layerNormEpsilon: 1e-5)
            visionConfiguration = VisionConfiguration(imageSize: size.width, patchSize: stride, transformer: attention, architecture: .fastvit(name))
        }
        guard modelCfg.customText == true else { throw unsupported("a MobileCLIP 2 configuration without custom_text") }
        // With hf_tokenizer_name, open_clip tokenizes with that Hugging Face
        // tokenizer (the hub repositories name themselves, and carry
        // CLIP's): the same pieces as its own BPE, whose normaliser
        // lowercases after "whitespace" cleaning, padded with its pad_token
        // (ModelDirectory reads it). Its default cleaning is "whitespace".
        let huggingFace = text.hfTokenizerName?.isEmpty == false
        if text.projBias == true { throw unsupported("text_cfg.proj_bias is set") }
        if let clean = text.clean, clean != "lower", !(huggingFace && clean == "whitespace") {
            throw unsupported("text_cfg.tokenizer_kwargs.clean \"\(clean)\"")
        }
        guard (text.poolType ?? "argmax") == "argmax" else {
            throw unsupported("text_cfg.pool_type \"\(text.poolType!)\" with \(name) (only \"argmax\")")
        }
        guard modelCfg.embedDim > 0 else { throw .invalidConfiguration(path: path, reason: "embed_dim must be positive") }
        var textConfiguration = try textConfiguration(architecture: .clip, path: path)
        textConfiguration.bidirectional = text.noCausalMask == true
        let model = ModelConfiguration(
            layout: .openCLIP, embeddingSize: modelCfg.embedDim,
            vision: visionConfiguration, text: textConfiguration)
        try model.validate(path: path)
        return (model, try preprocessConfiguration(imageSize: visionConfiguration.imageSize, path: path), "text.", .argmax)
    }

    /// The text tower (open_clip's TextTransformer) as configured.
    private func textConfiguration(architecture: TextArchitecture, path: String) throws(CLIPError) -> TextConfiguration {
        let text = modelCfg.textCfg
        let textWidth = text.width ?? 512
        let textHeads = text.heads ?? 8
        guard textHeads > 0, textWidth > 0, textWidth % textHeads == 0 else {
            throw .invalidConfiguration(path: path, reason: "text_cfg.width \(textWidth) is not a multiple of heads \(textHeads)")
        }
        let transformer = TransformerConfiguration(
            width: textWidth, layers: text.layers ?? 12, heads: textHeads,
            mlpWidth: try TransformerConfiguration.mlpWidth(width: textWidth, ratio: text.mlpRatio ?? 4.0, field: "text_cfg", path: path),
            activation: try Self.activation(quickGelu: modelCfg.quickGelu ?? false, kwargs: text.actKwargs, field: "text_cfg", path: path),
            layerNormEpsilon: try Self.epsilon(text.normKwargs, field: "text_cfg", path: path))
        guard transformer.layers > 0 else { throw .invalidConfiguration(path: path, reason: "layers must be positive") }
        return TextConfiguration(contextLength: text.contextLength ?? 77, vocabularySize: text.vocabSize ?? 49408,
                                 transformer: transformer, architecture: architecture)
    }

    /// preprocess_cfg, for a model whose input is `imageSize` square.
    private func preprocessConfiguration(imageSize: Int, path: String) throws(CLIPError) -> PreprocessConfiguration {
        func invalid(_ reason: String) -> CLIPError { .invalidConfiguration(path: path, reason: reason) }
        func unsupported(_ reason: String) -> CLIPError { .unsupportedArchitecture(path: path, reason: reason) }
        let preprocessCfg = self.preprocessCfg ?? PreprocessConfig()
        var preprocess = PreprocessConfiguration(imageSize: imageSize)
        if let mean = preprocessCfg.mean {
            guard mean.count == 3 || mean.count == 1 else { throw invalid("preprocess_cfg.mean must have 1 or 3 values") }
            if let problem = PreprocessConfiguration.normalizationProblem(mean, field: "preprocess_cfg.mean", std: false) { throw invalid(problem) }
            preprocess.mean = mean.count == 3 ? mean : Array(repeating: mean[0], count: 3)
        }
        if let std = preprocessCfg.std {
            guard std.count == 3 || std.count == 1 else { throw invalid("preprocess_cfg.std must have 1 or 3 values") }
            if let problem = PreprocessConfiguration.normalizationProblem(std, field: "preprocess_cfg.std", std: true) { throw invalid(problem) }
            preprocess.std = std.count == 3 ? std : Array(repeating: std[0], count: 3)
        }
        switch preprocessCfg.interpolation ?? "bicubic" {
        case "bicubic", "random": preprocess.interpolation = .bicubic   // "random" means bicubic at inference
        case "bilinear": preprocess.interpolation = .bilinear
        case let other: throw unsupported("preprocess_cfg.interpolation \"\(other)\"")
        }
        switch preprocessCfg.resizeMode ?? "shortest" {
        case "shortest": preprocess.resizeMode = .shortest
        case "squash": preprocess.resizeMode = .squash
        case let other: throw unsupported("preprocess_cfg.resize_mode \"\(other)\" (supported: shortest, squash)")
        }
        return preprocess
    }

    private static func activation(quickGelu: Bool, kwargs: [String: LooseJSON]?, field: String, path: String) throws(CLIPError) -> Activation {
        guard let kwargs, !kwargs.isEmpty else { return quickGelu ? .quickGelu : .gelu }
        if !quickGelu, kwargs.count == 1, kwargs["approximate"] == .string("tanh") { return .geluTanh }
        if !quickGelu, kwargs.count == 1, kwargs["approximate"] == .string("none") { return .gelu }
        throw .unsupportedArchitecture(path: path, reason: "\(field).act_kwargs \(kwargs.keys.sorted())")
    }

    private static func epsilon(_ kwargs: [String: LooseJSON]?, field: String, path: String) throws(CLIPError) -> Float {
        guard let kwargs, !kwargs.isEmpty else { return 1e-5 }
        if kwargs.count == 1, case let .number(eps)? = kwargs["eps"], eps > 0 { return Float(eps) }
        throw .unsupportedArchitecture(path: path, reason: "\(field).norm_kwargs \(kwargs.keys.sorted())")
    }
}

extension SquareSize {
    init(_ value: Int) {
        self.init(height: value, width: value)
    }

    init(height: Int, width: Int) {
        self.height = height
        self.width = width
    }
}

/// Which token's final state becomes the text embedding.
enum TextPooling: Sendable, Equatable {
    /// The first position holding the largest token id: the end-of-text token
    /// for CLIP's vocabulary (open_clip "argmax", transformers with eos_token_id 2).
    case argmax
    /// The first position holding this id (open_clip "eos", transformers otherwise).
    case firstToken(Int)
    /// The last position of the sequence padded to the context length (SigLIP).
    case last
}
