/// Limits a configuration file's numbers must respect before anything is
/// computed or allocated from them: far above every published CLIP (ViT-bigG:
/// width 1664, 48 layers; 336 px images; a 250 000-token vocabulary) and far
/// below what would overflow or exhaust memory.
enum ConfigurationLimits {
    static let imageSize = 1...4096
    static let tokens = 1...16385            // patches + the class token
    static let width = 1...16384
    static let layers = 1...256
    static let mlpWidth = 1...65536
    static let mlpRatio = 0.0...64.0         // exclusive of 0
    static let contextLength = 1...4096
    static let vocabularySize = 1...10_000_000
    static let embeddingSize = 1...16384
}

extension ModelConfiguration {
    /// Throws `invalidConfiguration` for a number out of `ConfigurationLimits`
    /// or inconsistent with another (a width not divisible by the heads, an
    /// image not divisible into patches).
    func validate(path: String) throws(CLIPError) {
        func check(_ value: Int, _ range: ClosedRange<Int>, _ field: String) throws(CLIPError) {
            guard range.contains(value) else {
                throw .invalidConfiguration(path: path, reason: "\(field) \(value) is not between \(range.lowerBound) and \(range.upperBound)")
            }
        }
        try check(embeddingSize, ConfigurationLimits.embeddingSize, "the embedding size")
        try check(vision.imageSize, ConfigurationLimits.imageSize, "the image size")
        try check(vision.patchSize, 1...vision.imageSize, "the patch size")
        guard vision.imageSize % vision.patchSize == 0 else {
            throw .invalidConfiguration(path: path, reason: "the image size \(vision.imageSize) is not a multiple of the patch size \(vision.patchSize)")
        }
        try check(vision.tokens, ConfigurationLimits.tokens, "the image tower's token count")
        try check(text.contextLength, ConfigurationLimits.contextLength, "the context length")
        try check(text.vocabularySize, ConfigurationLimits.vocabularySize, "the vocabulary size")
        switch text.architecture {
        case let .bert(typeVocabularySize, _): try check(typeVocabularySize, 1...1024, "the text tower's token type count")
        case let .siglip(padId?): try check(padId, 0...(text.vocabularySize - 1), "the text tower's padding id")
        case .siglip(nil): break
        case .clip: break
        }
        for (tower, transformer) in [("image", vision.transformer), ("text", text.transformer)] {
            try check(transformer.width, ConfigurationLimits.width, "the \(tower) tower's width")
            try check(transformer.layers, ConfigurationLimits.layers, "the \(tower) tower's layer count")
            try check(transformer.heads, 1...transformer.width, "the \(tower) tower's head count")
            guard transformer.width % transformer.heads == 0 else {
                throw .invalidConfiguration(path: path, reason: "the \(tower) tower's width \(transformer.width) is not a multiple of its \(transformer.heads) heads")
            }
            try check(transformer.mlpWidth, ConfigurationLimits.mlpWidth, "the \(tower) tower's MLP width")
            guard transformer.layerNormEpsilon.isFinite, transformer.layerNormEpsilon > 0 else {
                throw .invalidConfiguration(path: path, reason: "the \(tower) tower's layer norm epsilon must be a positive number")
            }
        }
    }

    /// Elements of one pre-LayerNorm block: two LayerNorms, the fused
    /// attention projections with biases, the MLP with biases.
    private static func blockParameters(_ t: TransformerConfiguration) -> Int {
        let w = t.width, m = t.mlpWidth
        return 2 * w + (3 * w * w + 3 * w) + (w * w + w) + 2 * w + (m * w + m) + (w * m + w)
    }

    /// The elements the image tower's tensors hold, for a validated configuration.
    var visionParameters: Int {
        let t = vision.transformer, w = t.width, p = vision.patchSize
        let stack = w * 3 * p * p + vision.tokens * w + t.layers * Self.blockParameters(t) + 2 * w
        switch vision.architecture {
        case .clip:
            return stack + w + 2 * w + w * embeddingSize
        case .fastvit, .timm:
            // Its shape is photosearch's own table, not the file's to
            // choose: nothing absurd to guard against.
            return 0
        case .siglip:
            // Patch bias; the pooling head: probe, attention, LayerNorm, MLP.
            return stack + w + w + (3 * w * w + 3 * w) + (w * w + w) + 2 * w + (t.mlpWidth * w + t.mlpWidth) + (w * t.mlpWidth + w)
        }
    }

    /// The elements the text tower's tensors hold, for a validated configuration.
    var textParameters: Int {
        let w = text.transformer.width
        var extra = 0
        switch text.architecture {
        case let .bert(typeVocabularySize, _): extra = typeVocabularySize * w
        case .siglip: extra = embeddingSize
        case .clip: break
        }
        return text.vocabularySize * w + text.contextLength * w + extra
            + text.transformer.layers * Self.blockParameters(text.transformer) + 2 * w + w * embeddingSize
    }
}

extension TransformerConfiguration {
    /// `width × ratio` as open_clip computes it (`int(width * mlp_ratio)`),
    /// after checking the ratio, which a file could set to anything.
    static func mlpWidth(width: Int, ratio: Double, field: String, path: String) throws(CLIPError) -> Int {
        let widths = ConfigurationLimits.width
        guard widths.contains(width) else {
            throw .invalidConfiguration(path: path, reason: "\(field).width \(width) is not between \(widths.lowerBound) and \(widths.upperBound)")
        }
        guard ratio.isFinite, ratio > ConfigurationLimits.mlpRatio.lowerBound, ratio <= ConfigurationLimits.mlpRatio.upperBound else {
            throw .invalidConfiguration(path: path, reason: "\(field).mlp_ratio \(ratio) is not above 0 and at most \(Int(ConfigurationLimits.mlpRatio.upperBound))")
        }
        return Int(Double(width) * ratio)
    }
}
