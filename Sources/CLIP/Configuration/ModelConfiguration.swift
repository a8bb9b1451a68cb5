/// The MLP nonlinearity of a transformer tower.
public enum Activation: String, Sendable, Codable {
    /// nn.GELU(): x·Φ(x) with the exact error function.
    case gelu
    /// GELU's tanh approximation (nn.GELU(approximate="tanh"), HF "gelu_new").
    case geluTanh = "gelu_tanh"
    /// x·σ(1.702·x), the activation OpenAI's CLIP weights were trained with.
    case quickGelu = "quick_gelu"
}

/// Shape of one pre-LayerNorm transformer stack.
public struct TransformerConfiguration: Sendable, Equatable {
    public var width: Int
    public var layers: Int
    public var heads: Int
    public var mlpWidth: Int
    public var activation: Activation
    public var layerNormEpsilon: Float

    public var headWidth: Int { width / heads }
}

/// Which kind of image tower a model has.
public enum VisionArchitecture: Sendable, Equatable {
    /// CLIP's ViT: a class token, LayerNorms before and after the
    /// transformer, the class token's final state projected.
    case clip
    /// SigLIP's ViT: patches with a bias and no class token, no LayerNorm
    /// before the transformer, a LayerNorm after it, then a multi-head
    /// attention pooling head (a learned probe attends over the patches,
    /// then `x + mlp(layernorm(x))`) whose output is the embedding.
    case siglip
    /// timm's FastViT MCi (MobileCLIP 2), by timm's name (see
    /// `FastViTTower.Shape.known`): convolutions and, in the last stage,
    /// attention; the mean of the final features through a linear head.
    /// `patchSize` is its stride (32) and `transformer` its attention stage.
    case fastvit(String)
    /// timm's ViT with a class token and a classifier head as the
    /// projection, by timm's name (see `TimmVisionTowers.classToken`):
    /// MobileCLIP2-B's, over a convolutional stem, and MobileCLIP2-L-14's.
    case timm(String)

    /// Whether a class token comes first in the sequence.
    var hasClassToken: Bool {
        switch self {
        case .clip, .timm: return true
        case .siglip, .fastvit: return false
        }
    }
}

/// The image tower: a ViT over square images cut into square patches, or
/// (FastViT) a convolutional tower whose final grid has the same shape.
public struct VisionConfiguration: Sendable, Equatable {
    public var imageSize: Int
    public var patchSize: Int
    public var transformer: TransformerConfiguration
    public var architecture: VisionArchitecture = .clip

    public var gridSize: Int { imageSize / patchSize }
    /// Patches, plus the class token for CLIP and timm's class-token ViTs.
    public var tokens: Int { gridSize * gridSize + (architecture.hasClassToken ? 1 : 0) }
}

/// Which kind of text tower a model has.
public enum TextArchitecture: Sendable, Equatable {
    /// CLIP's: a causal pre-LayerNorm transformer over BPE tokens, pooled
    /// at the end-of-text token.
    case clip
    /// BERT (Chinese-CLIP's RoBERTa-wwm): bidirectional, post-LayerNorm,
    /// word + position + token-type embeddings, WordPiece tokens, pooled at
    /// `[CLS]`.
    case bert(typeVocabularySize: Int, tokenizer: BertTokenizer.Options)
    /// SigLIP's: a bidirectional pre-LayerNorm transformer with no attention
    /// mask (padding to the context length is attended), a final LayerNorm,
    /// the last position's state through a linear head with a bias.
    /// `padId` fills the sequence up to the context length; nil until the
    /// tokenizer is read when it is the tokenizer's own pad_token (open_clip
    /// pads with the Hugging Face tokenizer's).
    case siglip(padId: Int?)
}

/// The languages a text tower was trained to answer, as its family
/// documents them.
public enum QueryLanguages: String, Sendable {
    /// CLIP's BPE towers, SigLIP's English ones.
    case english
    /// Chinese-CLIP's (RoBERTa-wwm): Chinese, and English.
    case chineseAndEnglish = "chinese-english"
    /// SigLIP 2's Gemma tokenizer (256 000 pieces) and the multilingual
    /// SigLIP's (250 000): many languages.
    case multilingual
}

/// The text tower.
public struct TextConfiguration: Sendable, Equatable {
    /// Most tokens a text may have (BERT: its position embeddings).
    public var contextLength: Int
    public var vocabularySize: Int
    public var transformer: TransformerConfiguration
    public var architecture: TextArchitecture = .clip
    /// A CLIP tower without the causal mask (open_clip's no_causal_mask,
    /// MobileCLIP 2): every position attends to every other, padding
    /// included, so sequences are always padded to the context length with
    /// `padId`.
    public var bidirectional = false
    /// What pads a bidirectional CLIP tower's sequences: 0, as open_clip's
    /// own tokenizer pads, or, where the configuration names a Hugging Face
    /// tokenizer (hf_tokenizer_name), that tokenizer's pad_token
    /// (CLIP's: <|endoftext|>, 49407).
    public var padId = 0
    /// Tokenized as open_clip does when the configuration names
    /// hf_tokenizer_name: with CLIP's Hugging Face tokenizer, whose
    /// normaliser lowercases character by character (and whose pad_token
    /// is `padId`).
    public var huggingFaceTokenizer = false
}

/// Which checkpoint naming scheme a model directory uses.
public enum CheckpointLayout: String, Sendable {
    /// open_clip's hub layout: open_clip_config.json + open_clip_model.safetensors.
    case openCLIP = "open_clip"
    /// Hugging Face transformers' CLIPModel: config.json + model.safetensors.
    case transformers
}

/// Everything needed to build both towers.
public struct ModelConfiguration: Sendable, Equatable {
    public var layout: CheckpointLayout
    public var embeddingSize: Int
    public var vision: VisionConfiguration
    public var text: TextConfiguration
}

/// How a photo becomes the tower's input tensor.
public struct PreprocessConfiguration: Sendable, Equatable {
    public enum Interpolation: String, Sendable {
        case bicubic, bilinear
    }

    public enum ResizeMode: String, Sendable {
        /// Shorter side to `imageSize`, then centre crop (open_clip's default).
        case shortest
        /// Both sides to `imageSize`, ignoring the aspect ratio.
        case squash
    }

    /// Where the centre crop starts when the margin is odd.
    public enum CropOffset: String, Sendable {
        /// torchvision's CenterCrop (open_clip): round((size − crop) / 2),
        /// half to even.
        case rounded
        /// transformers' image processors: floor((size − crop) / 2).
        case floored
    }

    /// What happens to transparency.
    public enum Transparency: String, Sendable {
        /// Pillow resizes RGBA premultiplied, then convert("RGB") drops the
        /// alpha channel (open_clip).
        case dropped
        /// Composited on white before anything else (transformers'
        /// convert_to_rgb).
        case onWhite
    }

    public var imageSize: Int
    public var mean: [Float]
    public var std: [Float]
    public var interpolation: Interpolation
    public var resizeMode: ResizeMode
    public var cropOffset: CropOffset = .rounded
    public var transparency: Transparency = .dropped

    /// Dataset statistics a model can have been trained with: a mean within
    /// ±10 and a standard deviation from 0.001 to 1000 (pixels are 0 ... 1;
    /// real ones are about 0.5 and 0.27). Outside, a photo's values become
    /// huge or infinite and every photo embeds alike.
    public static let meanLimit: Float = 10
    public static let stdRange: ClosedRange<Float> = 0.001...1000

    /// Why `values` cannot be a model's `field` (mean or std), if they cannot.
    static func normalizationProblem(_ values: [Float], field: String, std: Bool) -> String? {
        if std {
            guard values.allSatisfy(stdRange.contains) else { return "\(field) must be from \(stdRange.lowerBound) to \(Int(stdRange.upperBound))" }
        } else {
            guard values.allSatisfy({ $0.isFinite && abs($0) <= meanLimit }) else { return "\(field) must be within ±\(Int(meanLimit))" }
        }
        return nil
    }

    /// OpenAI's dataset statistics, open_clip's OPENAI_DATASET_MEAN/STD.
    public static let openAIMean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    public static let openAIStd: [Float] = [0.26862954, 0.26130258, 0.27577711]

    public init(imageSize: Int, mean: [Float] = openAIMean, std: [Float] = openAIStd,
                interpolation: Interpolation = .bicubic, resizeMode: ResizeMode = .shortest) {
        self.imageSize = imageSize
        self.mean = mean
        self.std = std
        self.interpolation = interpolation
        self.resizeMode = resizeMode
    }
}
