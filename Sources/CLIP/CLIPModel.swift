import Foundation
import Imaging
import Compute

/// A CLIP model: image tower, text tower, tokenizer and preprocessing, loaded
/// from a model directory in either public layout.
///
/// Embeddings are those open_clip's `encode_image` / `encode_text` return:
/// projected, not L2-normalised (see `VectorMath.normalized(_:)`).
public final class CLIPModel: Sendable {
    /// Which towers to load; search only needs the text tower, and loading
    /// one tower reads only its tensors from the checkpoint.
    public struct Towers: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        public static let image = Towers(rawValue: 1)
        public static let text = Towers(rawValue: 2)
        public static let both: Towers = [.image, .text]
    }

    public let configuration: ModelConfiguration
    /// The arithmetic of its matrix products.
    public let precision: Precision
    /// The model folder it was loaded from; nil for random weights.
    public let directory: String?
    public let preprocessor: ImagePreprocessor
    /// The text tower's tokenizer (CLIP's BPE, or BERT's WordPiece); nil
    /// without the text tower.
    public let tokenizer: (any TextTokenizer)?

    /// The languages the text tower answers, by family: CLIP's BPE towers
    /// English; Chinese-CLIP's BERT Chinese and English; SigLIP 2's Gemma
    /// tokenizer many; SigLIP's SentencePiece English, but for the
    /// multilingual tower's 250 000 pieces (the English ones have 32 000).
    /// Nil without a text tower.
    public var queryLanguages: QueryLanguages? {
        guard let tokenizer else { return nil }
        switch configuration.text.architecture {
        case .clip: return .english
        case .bert: return .chineseAndEnglish
        case .siglip: return tokenizer is GemmaTokenizer || configuration.text.vocabularySize > 100_000 ? .multilingual : .english
        }
    }
    /// SigLIP's: how a text–image cosine becomes the probability that they
    /// match; nil for CLIP models and without the text tower.
    public let calibration: MatchCalibration?
    let vision: AnyVisionTower?
    let text: AnyTextTower?

    /// Loads `towers` from the model directory at `path`, checking every
    /// tensor's presence and shape. With `prepared`, each tower (with the
    /// text tower, its tokenizer) is mapped ready-made from the cache, or
    /// prepared there for next time.
    public convenience init(directory path: String, towers: Towers = .both, precision: Precision = .fp32,
                            prepared: PreparedWeightsCache? = nil) throws(CLIPError) {
        let directory = try ModelDirectory(path: path)
        let (configuration, preprocess, names, pooling) = try directory.loadConfiguration()
        let file = try TensorFile(path: directory.weightsPath)
        try Self.checkSize(of: towers, configuration: configuration, names: names, file: file,
                           configurationPath: directory.configurationPath)
        let vocabulary = directory.vocabularyPaths.map { VocabularySource.transformers(vocabulary: $0.vocabulary, merges: $0.merges) }
        try self.init(reader: WeightReader(file: file, precision: precision), configuration: configuration, preprocess: preprocess,
                      names: names, pooling: pooling, vocabulary: vocabulary ?? .standard,
                      wordPieceVocabulary: directory.wordPieceVocabularyPath, modelDirectory: directory, towers: towers, directory: path,
                      configurationPath: directory.configurationPath, prepared: prepared)
    }

    /// Refuses a configuration that describes far more values than the
    /// checkpoint holds for a tower (a thousand layers over a 12-layer file),
    /// before the towers allocate anything for tensors that are not there.
    /// Smaller mismatches (a missing tensor, a shape off by a row) pass, to be
    /// reported tensor by tensor with names and shapes.
    static func checkSize(of towers: Towers, configuration: ModelConfiguration, names: CheckpointNames,
                          file: TensorFile, configurationPath: String) throws(CLIPError) {
        func present(_ prefixes: [String]) -> Int {
            file.tensors.filter { name, _ in prefixes.contains { name.hasPrefix($0) } && !WeightReader.ignoredNames.contains(name) }
                .reduce(0) { $0 + $1.value.elementCount }
        }
        var parts: [(String, Int, Int)] = []
        if towers.contains(.image) {
            parts.append(("image", configuration.visionParameters, present(names.visionPrefixes)))
        }
        if towers.contains(.text) {
            parts.append(("text", configuration.textParameters, present(names.textPrefixes)))
        }
        for (tower, expected, held) in parts where expected > held + held / 2 + (1 << 24) {
            throw .invalidConfiguration(path: configurationPath,
                                        reason: "it describes an \(tower) tower of \(expected) values, but \(file.path) holds \(held) for it")
        }
    }

    /// The tensors a checkpoint of `configuration` holds for `towers`
    /// (open_clip's names for CLIP, transformers' for SigLIP), in the order
    /// the towers read them: what a writer of checkpoints (the benchmarks'
    /// random models) must write.
    package static func checkpointTensors(_ configuration: ModelConfiguration, towers: Towers) throws(CLIPError) -> [TensorSpecification] {
        let reader = WeightReader(describingWith: .fp32)
        let siglip = configuration.vision.architecture == .siglip
        // (open_clip's MobileCLIP 2 is a CustomTextCLIP: its text tower under "text.", its image tower timm's.)
        let customText: Bool
        switch configuration.vision.architecture {
        case .fastvit, .timm: customText = true
        case .clip, .siglip: customText = false
        }
        let names = siglip ? CheckpointNames(layout: .transformers, openCLIPTextPrefix: "", siglip: true)
                           : CheckpointNames(openCLIPTextPrefix: customText ? "text." : "", vision: configuration.vision.architecture)
        if towers.contains(.image) {
            _ = try AnyVisionTower(reader: reader, names: names, configuration: configuration.vision, embeddingSize: configuration.embeddingSize)
        }
        if towers.contains(.text) {
            _ = try TextTower(reader: reader, names: names, configuration: configuration.text,
                              embeddingSize: configuration.embeddingSize, pooling: siglip ? .last : .argmax)
            if siglip {
                _ = try reader.tensor("logit_scale", shape: [1])
                _ = try reader.tensor("logit_bias", shape: [1])
            }
        }
        return reader.described
    }

    private init(reader: WeightReader, configuration: ModelConfiguration, preprocess: PreprocessConfiguration,
                 names: CheckpointNames, pooling: TextPooling, vocabulary: VocabularySource, wordPieceVocabulary: String?,
                 modelDirectory: ModelDirectory?, towers: Towers, directory: String?, configurationPath: String, prepared: PreparedWeightsCache?) throws(CLIPError) {
        self.precision = reader.precision
        self.directory = directory
        preprocessor = ImagePreprocessor(configuration: preprocess)
        var resolved = configuration
        var owned: [String] = []
        if towers.contains(.image) {
            vision = try reader.reading(tower: "image", cache: prepared) { () throws(CLIPError) in
                try AnyVisionTower(reader: reader, names: names, configuration: configuration.vision,
                                   embeddingSize: configuration.embeddingSize)
            }
            owned += names.visionPrefixes
        } else {
            vision = nil
        }
        if towers.contains(.text), case let .bert(typeVocabularySize, options) = configuration.text.architecture {
            guard let wordPieceVocabulary else { throw .missingFile(path: (directory ?? ".") + "/vocab.txt") }
            let tokenizer = try BertTokenizer(vocabularyFile: wordPieceVocabulary, options: options,
                                              contextLength: configuration.text.contextLength,
                                              maximumTokens: configuration.text.vocabularySize)
            guard tokenizer.vocabularySize <= configuration.text.vocabularySize else {
                throw .unsupportedArchitecture(path: configurationPath,
                                               reason: "text vocabulary of \(configuration.text.vocabularySize) tokens is smaller than vocab.txt's \(tokenizer.vocabularySize)")
            }
            self.tokenizer = tokenizer
            text = .bert(try reader.reading(tower: "text", cache: prepared) { () throws(CLIPError) in
                try BertTextTower(reader: reader, configuration: configuration.text, embeddingSize: configuration.embeddingSize,
                                  typeVocabularySize: typeVocabularySize)
            })
            owned += [BertNames.prefix, "text_projection."]
        } else if towers.contains(.text) {
            let contextLength = configuration.text.contextLength
            // The tokenizer (its tables prepared where it has large ones) and
            // how a refusal names it.
            func textTokenizer() throws(CLIPError) -> (any TextTokenizer, String) {
                guard case let .siglip(padId) = configuration.text.architecture else {
                    let words = try reader.prepared(key: vocabulary.key, decode: { Vocabulary(prepared: $0, owner: $1) },
                                                    build: vocabulary.load, words: \.preparedWords)
                    var tokenizer = CLIPTokenizer(vocabulary: words, contextLength: contextLength)
                    if configuration.text.huggingFaceTokenizer { tokenizer.cleaning = .huggingFace }
                    return (tokenizer, "the CLIP tokenizer's")
                }
                // SigLIP 2: tokenizer.json; SigLIP: spiece.model.
                guard let modelDirectory else { throw .missingFile(path: (directory ?? ".") + "/tokenizer.json") }
                guard let tokenizerFile = modelDirectory.tokenizerFilePath else {
                    return (try modelDirectory.siglipTokenizer(contextLength: contextLength), "its tokenizer's")
                }
                // open_clip cleans texts its own way before the tokenizer
                // (its SigLIP configurations' clean="canonicalize", the
                // only one they use) and pads with the tokenizer's pad_token.
                let openCLIP = names.layout == .openCLIP
                var tokenizer = try reader.prepared(
                    key: modelDirectory.gemmaTokenizerKey(lowercase: !openCLIP),
                    decode: { GemmaTokenizer(prepared: $0, owner: $1, contextLength: contextLength, padId: padId) },
                    build: { () throws(CLIPError) in try modelDirectory.gemmaTokenizer(contextLength: contextLength, padId: padId, lowercase: !openCLIP) },
                    words: \.preparedWords)
                if openCLIP { tokenizer.cleaning = .canonicalize }
                if padId == nil {
                    guard let pad = tokenizer.definition.padToken else {
                        throw .invalidVocabulary(path: tokenizerFile, reason: "it has no pad_token to fill queries to \(contextLength) positions")
                    }
                    tokenizer.padId = pad
                }
                return (tokenizer, "its tokenizer's")
            }
            let (tower, tokenizer) = try reader.reading(tower: "text", cache: prepared) { () throws(CLIPError) -> (TextTower, any TextTokenizer) in
                let (tokenizer, named) = try textTokenizer()
                guard tokenizer.vocabularySize <= configuration.text.vocabularySize else {
                    throw .unsupportedArchitecture(path: configurationPath,
                                                   reason: "text vocabulary of \(configuration.text.vocabularySize) tokens is smaller than \(named) \(tokenizer.vocabularySize)")
                }
                // A padding id left to the tokenizer is now known.
                var textConfiguration = configuration.text
                if case .siglip(nil) = textConfiguration.architecture, let gemma = tokenizer as? GemmaTokenizer {
                    textConfiguration.architecture = .siglip(padId: gemma.padId)
                }
                let tower = try TextTower(reader: reader, names: names, configuration: textConfiguration,
                                          embeddingSize: configuration.embeddingSize, pooling: pooling)
                return (tower, tokenizer)
            }
            resolved.text = tower.configuration
            (text, self.tokenizer) = (.clip(tower), tokenizer)
            owned += names.textPrefixes
        } else {
            (text, tokenizer) = (nil, nil)
        }
        if towers.contains(.text), case .siglip = configuration.text.architecture {
            let scale = try reader.vector("logit_scale", count: 1)[0], bias = try reader.vector("logit_bias", count: 1)[0]
            guard scale.isFinite, bias.isFinite, scale < 20 else {
                throw .invalidConfiguration(path: reader.path, reason: "logit_scale \(scale) and logit_bias \(bias) are not a usable calibration")
            }
            calibration = MatchCalibration(scale: Float(exp(Double(scale))), bias: bias)
        } else {
            calibration = nil
        }
        try reader.finish(ownedPrefixes: towers == .both ? [""] : owned)
        self.configuration = resolved
    }

    public var embeddingSize: Int { configuration.embeddingSize }
    public var hasImageTower: Bool { vision != nil }
    public var hasTextTower: Bool { text != nil }

    /// Embeddings of upright RGB(A) images, one per image, in order.
    public func encode(images: [Bitmap]) -> [[Float]] {
        guard !images.isEmpty else { return [] }
        var pixels: [Float] = []
        pixels.reserveCapacity(images.count * preprocessor.valuesPerImage)
        for image in images { preprocessor.appendPixelValues(image, to: &pixels) }
        return encode(pixelValues: pixels, count: images.count)
    }

    /// Embeds a synthetic photo and a short text with whichever towers are
    /// loaded, and throws unless both give finite vectors of the model's
    /// embedding size: damaged weights show here rather than in an index.
    public func probe() throws(CLIPError) {
        if hasImageTower {
            let size = 64
            var pixels = [UInt8](repeating: 0, count: size * size * 3)
            for y in 0..<size {
                for x in 0..<size {
                    pixels[(y * size + x) * 3] = UInt8(x * 4)
                    pixels[(y * size + x) * 3 + 1] = UInt8(y * 4)
                    pixels[(y * size + x) * 3 + 2] = UInt8((x + y) * 2)
                }
            }
            let vector = encode(images: [Bitmap(width: size, height: size, layout: .rgb, pixels: pixels)])[0]
            guard vector.count == embeddingSize, vector.allSatisfy({ $0.isFinite }) else {
                throw .nonFiniteEmbedding(path: directory ?? "(random weights)", tower: "image")
            }
        }
        if hasTextTower {
            let vector = encode(texts: ["a photo of a cat"])[0]
            guard vector.count == embeddingSize, vector.allSatisfy({ $0.isFinite }) else {
                throw .nonFiniteEmbedding(path: directory ?? "(random weights)", tower: "text")
            }
        }
    }

    /// Most images per pass through the image tower: activations stay within
    /// a few hundred MB however many images are given at once.
    public static let imageBatchSize = 16

    /// Rows (tokens of all the images) a pass through the image tower aims
    /// at. Larger passes do the same work at a lower speed: the activations
    /// of the elementwise steps between the matrix products (LayerNorm, GELU,
    /// quantisation, residuals) stop fitting in the caches. Measured on an
    /// AMD EPYC Zen 4 (photosearch-bench encoder, int8, medians of 4
    /// alternating runs): SigLIP 2 B/16 at 224 px (196 tokens) at batch 32
    /// gave 15.0 images/s in passes of 16 images and 20.5 in passes of 2;
    /// batch 8, 19.3 and 20.5. 400 rows is ViT-B/32's 8 images of 50 tokens.
    static let rowsPerPass = 400

    /// Images per pass for this model's image tower.
    var imagesPerPass: Int {
        guard let vision else { return Self.imageBatchSize }
        return max(1, min(Self.imageBatchSize, Self.rowsPerPass / vision.configuration.tokens))
    }

    /// Embeddings of already preprocessed images: `count × 3 × size × size`
    /// normalised values, NCHW (see `ImagePreprocessor`).
    public func encode(pixelValues: [Float], count: Int) -> [[Float]] {
        guard let vision else { preconditionFailure("the image tower was not loaded") }
        let perImage = preprocessor.valuesPerImage
        precondition(pixelValues.count == count * perImage, "pixel values do not match the image count")
        var embeddings: [[Float]] = []
        embeddings.reserveCapacity(count)
        let perPass = imagesPerPass
        for start in stride(from: 0, to: count, by: perPass) {
            let batch = min(perPass, count - start)
            let pixels = batch == count ? pixelValues : Array(pixelValues[(start * perImage)..<((start + batch) * perImage)])
            let result = vision.encode(pixels: pixels, count: batch)
            embeddings += (0..<batch).map(result.row)
        }
        return embeddings
    }

    /// Embeddings of texts, one per text, in order.
    public func encode(texts: [String]) -> [[Float]] {
        guard let tokenizer else { preconditionFailure("the text tower was not loaded") }
        return encode(tokens: texts.map(tokenizer.tokenize))
    }

    /// Embeddings of token id sequences as the model's tokenizer makes them.
    public func encode(tokens: [[Int]]) -> [[Float]] {
        guard let text else { preconditionFailure("the text tower was not loaded") }
        guard !tokens.isEmpty else { return [] }
        let result = text.encode(tokens: tokens)
        return (0..<tokens.count).map(result.row)
    }
}

/// SigLIP's sigmoid: the probability that a text and an image match is
/// σ(scale · cos + bias), scale = exp(logit_scale), as the model was trained.
public struct MatchCalibration: Sendable, Equatable, Codable {
    public let scale: Float
    public let bias: Float

    public init(scale: Float, bias: Float) {
        self.scale = scale
        self.bias = bias
    }

    /// The match probability of an L2-normalised text–image cosine.
    public func probability(cosine: Float) -> Float {
        Float(1 / (1 + exp(-Double(scale * cosine + bias))))
    }
}

/// The kinds of image tower.
enum AnyVisionTower: Sendable {
    case vit(VisionTower)
    case fastvit(FastViTTower, configuration: VisionConfiguration)

    init(reader: WeightReader, names: CheckpointNames, configuration: VisionConfiguration, embeddingSize: Int) throws(CLIPError) {
        if case let .fastvit(name) = configuration.architecture {
            guard let shape = FastViTTower.Shape.known[name] else {
                throw .unsupportedArchitecture(path: reader.path, reason: "timm image tower \"\(name)\"")
            }
            self = .fastvit(try FastViTTower(reader: reader, prefix: names.visionPrefix + "trunk.", shape: shape, embeddingSize: embeddingSize),
                            configuration: configuration)
        } else {
            self = .vit(try VisionTower(reader: reader, names: names, configuration: configuration, embeddingSize: embeddingSize))
        }
    }

    var configuration: VisionConfiguration {
        switch self {
        case let .vit(tower): return tower.configuration
        case let .fastvit(_, configuration): return configuration
        }
    }

    /// Embeddings of `count` images. Several run side by side, a share
    /// of them on each core with every loop inside on that core alone: no
    /// core waits for another between layers, and a share's activations
    /// stay in its core's caches from layer to layer. A FastViT takes its
    /// share one image at a time (an image's maps are megabytes, its
    /// weights fewer); a ViT as one batch (its weights outweigh an image's
    /// tokens, and are read once for the share).
    func encode(pixels: [Float], count: Int) -> Matrix {
        let shares = Parallel.ranges(of: count, work: count, minimumWork: 0)
        guard shares.count > 1 else { return encodeShare(pixels: pixels, count: count) }
        let plane = pixels.count / count
        var output: [Matrix?] = Array(repeating: nil, count: shares.count)
        output.withUnsafeMutableBufferPointer { results in
            let results = SendableMutablePointer(results.baseAddress!)
            Parallel.run(shares) { share, images in
                let slice = Array(pixels[images.lowerBound * plane..<images.upperBound * plane])
                (results.pointer + share).initialize(to: encodeShare(pixels: slice, count: images.count))
            }
        }
        var joined = Matrix(uninitialized: count, output[0]!.columns)
        var row = 0
        for part in output {
            joined.values.replaceSubrange(row * joined.columns..<(row + part!.rows) * joined.columns, with: part!.values)
            row += part!.rows
        }
        return joined
    }

    /// A share of the images: on the calling thread's core inside
    /// `encode`'s loop, on every core when it is the whole batch.
    private func encodeShare(pixels: [Float], count: Int) -> Matrix {
        switch self {
        case let .vit(tower):
            return tower.encode(pixels: pixels, count: count)
        case let .fastvit(tower, configuration):
            guard count > 1 else { return tower.encode(pixels: pixels, count: count, size: configuration.imageSize) }
            let plane = pixels.count / count
            var rows: [Float] = []
            for image in 0..<count {
                rows += tower.encode(pixels: Array(pixels[image * plane..<(image + 1) * plane]), count: 1, size: configuration.imageSize).values
            }
            return Matrix(rows: count, columns: rows.count / count, values: rows)
        }
    }
}

/// The two kinds of text tower.
enum AnyTextTower: Sendable {
    case clip(TextTower)
    case bert(BertTextTower)

    func encode(tokens: [[Int]]) -> Matrix {
        switch self {
        case let .clip(tower): return tower.encode(tokens: tokens)
        case let .bert(tower): return tower.encode(tokens: tokens)
        }
    }
}
