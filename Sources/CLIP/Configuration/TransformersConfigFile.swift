import Foundation

/// config.json of a Hugging Face transformers `CLIPModel`, `ChineseCLIPModel`
/// or `SiglipModel` (SigLIP, and SigLIP 2 at a fixed resolution). Absent
/// fields take transformers' defaults (models/clip/configuration_clip.py,
/// models/chinese_clip/configuration_chinese_clip.py,
/// models/siglip/configuration_siglip.py).
struct TransformersConfigFile: Decodable {
    struct TowerConfig: Decodable {
        var hiddenSize: Int?
        var intermediateSize: Int?
        var numAttentionHeads: Int?
        var numHiddenLayers: Int?
        var hiddenAct: String?
        var layerNormEps: Double?
        // vision
        var imageSize: SquareSize?
        var patchSize: SquareSize?
        var numChannels: Int?
        // text
        var maxPositionEmbeddings: Int?
        var vocabSize: Int?
        var eosTokenId: Int?
        var typeVocabSize: Int?
        var padTokenId: Int?
        var projectionSize: Int?
        var visionUseHead: Bool?

        enum CodingKeys: String, CodingKey {
            case hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
            case numAttentionHeads = "num_attention_heads", numHiddenLayers = "num_hidden_layers"
            case hiddenAct = "hidden_act", layerNormEps = "layer_norm_eps"
            case imageSize = "image_size", patchSize = "patch_size", numChannels = "num_channels"
            case maxPositionEmbeddings = "max_position_embeddings", vocabSize = "vocab_size"
            case eosTokenId = "eos_token_id", typeVocabSize = "type_vocab_size"
            case padTokenId = "pad_token_id", projectionSize = "projection_size", visionUseHead = "vision_use_head"
        }
    }

    var modelType: String?
    var architectures: [String]?
    var projectionDim: Int?
    var textConfig: TowerConfig?
    var visionConfig: TowerConfig?

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", architectures, projectionDim = "projection_dim"
        case textConfig = "text_config", visionConfig = "vision_config"
    }

    /// Whether it describes a ChineseCLIPModel (a BERT text tower).
    var isChineseCLIP: Bool { modelType == "chinese_clip" || (modelType == nil && architectures == ["ChineseCLIPModel"]) }

    /// Whether it describes a SiglipModel.
    var isSiglip: Bool { modelType == "siglip" || (modelType == nil && architectures == ["SiglipModel"]) }

    /// The configuration; `tokenizer` are the BERT tokenizer's options (from
    /// tokenizer_config.json) for a ChineseCLIPModel.
    func resolve(path: String, tokenizer: BertTokenizer.Options = BertTokenizer.Options()) throws(CLIPError) -> (ModelConfiguration, TextPooling) {
        func unsupported(_ reason: String) -> CLIPError { .unsupportedArchitecture(path: path, reason: reason) }
        func invalid(_ reason: String) -> CLIPError { .invalidConfiguration(path: path, reason: reason) }
        let chinese = isChineseCLIP
        if modelType == "siglip2" || architectures?.contains("Siglip2Model") == true {
            throw unsupported("Siglip2Model (SigLIP 2 NaFlex, images at their own aspect ratio) is not supported yet; the fixed-resolution SigLIP 2 models (google/siglip2-base-patch16-224 and the like, model_type \"siglip\") are")
        }
        if let modelType, !["clip", "chinese_clip", "siglip"].contains(modelType) {
            throw unsupported("model_type \"\(modelType)\" (supported: \"clip\", \"chinese_clip\", \"siglip\")")
        }
        let expected = chinese ? "ChineseCLIPModel" : isSiglip ? "SiglipModel" : "CLIPModel"
        if let architectures, !architectures.contains(expected) {
            throw unsupported("architectures \(architectures) (a model_type \"\(modelType ?? "clip")\" must be a \(expected))")
        }
        if isSiglip { return try resolveSiglip(path: path) }
        guard let vision = visionConfig, let text = textConfig else {
            throw invalid("text_config and vision_config are required")
        }
        if let channels = vision.numChannels, channels != 3 {
            throw unsupported("vision_config.num_channels \(channels)")
        }
        let imageSize = vision.imageSize ?? SquareSize(224)
        let patchSize = vision.patchSize ?? SquareSize(32)
        guard imageSize.height == imageSize.width, patchSize.height == patchSize.width else {
            throw unsupported("non-square image or patch size")
        }
        guard patchSize.width > 0, imageSize.width >= patchSize.width, imageSize.width % patchSize.width == 0 else {
            throw invalid("vision_config.image_size \(imageSize.width) is not a multiple of patch_size \(patchSize.width)")
        }
        let visionTransformer = try Self.transformer(vision, defaults: (768, 3072, 12, 12), field: "vision_config", path: path)
        let embeddingSize = projectionDim ?? 512
        guard embeddingSize > 0 else { throw invalid("projection_dim must be positive") }
        if chinese {
            // BERT's defaults (ChineseCLIPTextConfig): GELU (erf), LayerNorm eps 1e-12.
            let textTransformer = try Self.transformer(text, defaults: (768, 3072, 12, 12), activation: "gelu", epsilon: 1e-12,
                                                       field: "text_config", path: path)
            let model = ModelConfiguration(
                layout: .transformers, embeddingSize: embeddingSize,
                vision: VisionConfiguration(imageSize: imageSize.width, patchSize: patchSize.width, transformer: visionTransformer),
                text: TextConfiguration(contextLength: text.maxPositionEmbeddings ?? 512, vocabularySize: text.vocabSize ?? 30522,
                                        transformer: textTransformer,
                                        architecture: .bert(typeVocabularySize: text.typeVocabSize ?? 2, tokenizer: tokenizer)))
            try model.validate(path: path)
            return (model, .firstToken(0))
        }
        let textTransformer = try Self.transformer(text, defaults: (512, 2048, 8, 12), field: "text_config", path: path)
        let eos = text.eosTokenId ?? 49407
        let model = ModelConfiguration(
            layout: .transformers, embeddingSize: embeddingSize,
            vision: VisionConfiguration(imageSize: imageSize.width, patchSize: patchSize.width, transformer: visionTransformer),
            text: TextConfiguration(contextLength: text.maxPositionEmbeddings ?? 77, vocabularySize: text.vocabSize ?? 49408,
                                    transformer: textTransformer))
        try model.validate(path: path)
        // transformers' CLIPTextTransformer: eos_token_id 2 marks configs written
        // before PR #24773 and means "argmax of the ids".
        return (model, eos == 2 ? .argmax : .firstToken(eos))
    }

    /// A SiglipModel: the image embedding is the pooling head's output (the
    /// vision width), the text head projects to `projection_size`, which
    /// must be that width.
    private func resolveSiglip(path: String) throws(CLIPError) -> (ModelConfiguration, TextPooling) {
        guard let vision = visionConfig, let text = textConfig else {
            throw .invalidConfiguration(path: path, reason: "text_config and vision_config are required")
        }
        if let channels = vision.numChannels, channels != 3 {
            throw .unsupportedArchitecture(path: path, reason: "vision_config.num_channels \(channels)")
        }
        if vision.visionUseHead == false {
            throw .unsupportedArchitecture(path: path, reason: "vision_config.vision_use_head false (an image tower without its pooling head makes no embedding)")
        }
        let imageSize = vision.imageSize ?? SquareSize(224)
        let patchSize = vision.patchSize ?? SquareSize(16)
        guard imageSize.height == imageSize.width, patchSize.height == patchSize.width else {
            throw .unsupportedArchitecture(path: path, reason: "non-square image or patch size")
        }
        guard patchSize.width > 0, imageSize.width >= patchSize.width, imageSize.width % patchSize.width == 0 else {
            throw .invalidConfiguration(path: path, reason: "vision_config.image_size \(imageSize.width) is not a multiple of patch_size \(patchSize.width)")
        }
        let defaults = (768, 3072, 12, 12)
        let visionTransformer = try Self.transformer(vision, defaults: defaults, activation: "gelu_pytorch_tanh", epsilon: 1e-6,
                                                     field: "vision_config", path: path)
        let textTransformer = try Self.transformer(text, defaults: defaults, activation: "gelu_pytorch_tanh", epsilon: 1e-6,
                                                   field: "text_config", path: path)
        let embeddingSize = visionTransformer.width
        let projection = text.projectionSize ?? textTransformer.width
        guard projection == embeddingSize else {
            throw .invalidConfiguration(path: path, reason: "text_config.projection_size \(projection) differs from the image embedding size (vision_config.hidden_size \(embeddingSize))")
        }
        let model = ModelConfiguration(
            layout: .transformers, embeddingSize: embeddingSize,
            vision: VisionConfiguration(imageSize: imageSize.width, patchSize: patchSize.width, transformer: visionTransformer,
                                        architecture: .siglip),
            text: TextConfiguration(contextLength: text.maxPositionEmbeddings ?? 64, vocabularySize: text.vocabSize ?? 32000,
                                    transformer: textTransformer, architecture: .siglip(padId: text.padTokenId ?? 1)))
        try model.validate(path: path)
        return (model, .last)
    }

    private static func transformer(_ tower: TowerConfig, defaults: (Int, Int, Int, Int), activation defaultActivation: String = "quick_gelu",
                                    epsilon defaultEpsilon: Double = 1e-5, field: String, path: String) throws(CLIPError) -> TransformerConfiguration {
        let width = tower.hiddenSize ?? defaults.0
        let heads = tower.numAttentionHeads ?? defaults.2
        guard width > 0, heads > 0, width % heads == 0 else {
            throw .invalidConfiguration(path: path, reason: "\(field).hidden_size \(width) is not a multiple of num_attention_heads \(heads)")
        }
        let activation: Activation
        switch tower.hiddenAct ?? defaultActivation {
        case "quick_gelu": activation = .quickGelu
        case "gelu": activation = .gelu
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": activation = .geluTanh
        case let other: throw .unsupportedArchitecture(path: path, reason: "\(field).hidden_act \"\(other)\"")
        }
        let layers = tower.numHiddenLayers ?? defaults.3
        let mlpWidth = tower.intermediateSize ?? defaults.1
        guard layers > 0, mlpWidth > 0 else {
            throw .invalidConfiguration(path: path, reason: "\(field) layer counts must be positive")
        }
        return TransformerConfiguration(width: width, layers: layers, heads: heads, mlpWidth: mlpWidth,
                                        activation: activation, layerNormEpsilon: Float(tower.layerNormEps ?? defaultEpsilon))
    }
}

/// preprocessor_config.json of a transformers `CLIPImageProcessor`.
struct TransformersPreprocessorFile: Decodable {
    var imageMean: [Float]?
    var imageStd: [Float]?
    var resample: Int?
    var size: LooseJSON?
    var cropSize: LooseJSON?
    var doCenterCrop: Bool?
    var doResize: Bool?

    enum CodingKeys: String, CodingKey {
        case imageMean = "image_mean", imageStd = "image_std", resample, size
        case cropSize = "crop_size", doCenterCrop = "do_center_crop", doResize = "do_resize"
    }

    /// transformers' CLIPImageProcessor / ChineseCLIPImageProcessor geometry:
    /// transparency composited on white, a shortest-edge or exact resize,
    /// then a centre crop whose offset is floored.
    func resolve(imageSize: Int, path: String) throws(CLIPError) -> PreprocessConfiguration {
        func invalid(_ reason: String) -> CLIPError { .invalidConfiguration(path: path, reason: reason) }
        var preprocess = PreprocessConfiguration(imageSize: imageSize)
        preprocess.cropOffset = .floored
        preprocess.transparency = .onWhite
        if doResize == false {
            throw .unsupportedArchitecture(path: path, reason: "do_resize false (photos of any size must be resized to the model's input)")
        }
        if let imageMean {
            guard imageMean.count == 3 else { throw invalid("image_mean must have 3 values") }
            if let problem = PreprocessConfiguration.normalizationProblem(imageMean, field: "image_mean", std: false) { throw invalid(problem) }
            preprocess.mean = imageMean
        }
        if let imageStd {
            guard imageStd.count == 3 else { throw invalid("image_std must have 3 values") }
            if let problem = PreprocessConfiguration.normalizationProblem(imageStd, field: "image_std", std: true) { throw invalid(problem) }
            preprocess.std = imageStd
        }
        switch resample ?? 3 {
        case 3: preprocess.interpolation = .bicubic     // PIL.Image.BICUBIC
        case 2: preprocess.interpolation = .bilinear    // PIL.Image.BILINEAR
        case let other: throw .unsupportedArchitecture(path: path, reason: "resample \(other) (only bicubic 3 and bilinear 2)")
        }
        // size {"shortest_edge": n} (or a bare number) resizes the short side;
        // {"height": n, "width": n} squashes to a square. (Compared as
        // numbers: any value, 1e300 or 48.5, is either the size or not.)
        let side = Double(imageSize)
        func shown(_ value: Double) -> String { abs(value) < 1e15 && value == value.rounded() ? String(Int(value)) : "\(value)" }
        switch size {
        case nil, .null:
            break
        case let .number(value)?:
            guard value == side else { throw invalid("size \(shown(value)) differs from the model's image_size \(imageSize)") }
        case let .object(fields)?:
            if case let .number(edge)? = fields["shortest_edge"] {
                guard edge == side else { throw invalid("size.shortest_edge \(shown(edge)) differs from the model's image_size \(imageSize)") }
            } else if case let .number(height)? = fields["height"], case let .number(width)? = fields["width"] {
                guard height == side, width == side else { throw invalid("size differs from the model's image_size \(imageSize)") }
                preprocess.resizeMode = .squash
            } else {
                throw invalid("size has neither shortest_edge nor height and width")
            }
        default:
            throw invalid("size must be a number or an object")
        }
        if doCenterCrop == false, preprocess.resizeMode == .shortest {
            throw .unsupportedArchitecture(path: path, reason: "do_center_crop false with a shortest-edge resize")
        }
        // The crop must give the model's input size (a no-op after an exact resize).
        if doCenterCrop ?? true {
            switch cropSize {
            case nil, .null:
                break
            case let .number(value)?:
                guard value == side else { throw invalid("crop_size \(shown(value)) differs from the model's image_size \(imageSize)") }
            case let .object(fields)?:
                if case let .number(height)? = fields["height"], case let .number(width)? = fields["width"] {
                    guard height == side, width == side else {
                        throw invalid("crop_size differs from the model's image_size \(imageSize)")
                    }
                }
            default:
                throw invalid("crop_size must be a number or an object")
            }
        }
        return preprocess
    }
}
