import FileAccess
import Foundation

/// A model folder on disk and which of the two public layouts it uses.
public struct ModelDirectory: Sendable, Equatable {
    public let path: String
    public let layout: CheckpointLayout
    public let configurationPath: String
    public let weightsPath: String
    /// transformers' preprocessor_config.json, when present.
    public let preprocessorPath: String?
    /// transformers' vocab.json and merges.txt, when both are present.
    public let vocabularyPaths: (vocabulary: String, merges: String)?
    /// A BERT tokenizer's vocab.txt (Chinese-CLIP), when present.
    public let wordPieceVocabularyPath: String?
    /// tokenizer_config.json, when present.
    public let tokenizerConfigurationPath: String?
    /// The tokenizers library's tokenizer.json (SigLIP 2's Gemma tokenizer), when present.
    public let tokenizerFilePath: String?
    /// A SentencePiece model (SigLIP's spiece.model), when present.
    public let sentencePiecePath: String?

    public static func == (lhs: ModelDirectory, rhs: ModelDirectory) -> Bool {
        lhs.path == rhs.path && lhs.layout == rhs.layout
    }

    /// Identifies the layout from the files present and checks that the
    /// weights file exists.
    public init(path: String) throws(CLIPError) {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .modelDirectoryNotFound(path: path)
        }
        guard isDirectory.boolValue else { throw .notAModelDirectory(path: path) }
        func file(_ name: String) -> String { path + "/" + name }
        func exists(_ name: String) -> Bool { manager.fileExists(atPath: file(name)) }

        self.path = path
        // safetensors when the folder has it, else PyTorch's pickle archive
        // (read without running it: see RestrictedUnpickler).
        if exists("open_clip_config.json") {
            layout = .openCLIP
            configurationPath = file("open_clip_config.json")
            if exists("open_clip_model.safetensors") {
                weightsPath = file("open_clip_model.safetensors")
            } else if exists("open_clip_pytorch_model.bin") {
                weightsPath = file("open_clip_pytorch_model.bin")
            } else {
                throw .missingFile(path: file("open_clip_model.safetensors"))
            }
        } else if exists("config.json") {
            layout = .transformers
            configurationPath = file("config.json")
            if exists("model.safetensors") {
                weightsPath = file("model.safetensors")
            } else if exists("model.safetensors.index.json") || exists("pytorch_model.bin.index.json") {
                let index = exists("model.safetensors.index.json") ? "model.safetensors.index.json" : "pytorch_model.bin.index.json"
                throw .unsupportedArchitecture(path: file(index),
                                               reason: "sharded checkpoints are not supported; save the model as one model.safetensors")
            } else if exists("pytorch_model.bin") {
                weightsPath = file("pytorch_model.bin")
            } else {
                throw .missingFile(path: file("model.safetensors"))
            }
        } else {
            throw .notAModelDirectory(path: path)
        }
        preprocessorPath = exists("preprocessor_config.json") ? file("preprocessor_config.json") : nil
        // A tokenizer is both files or neither; one alone is a broken download.
        if exists("vocab.json") != exists("merges.txt") {
            throw .missingFile(path: file(exists("vocab.json") ? "merges.txt" : "vocab.json"))
        }
        vocabularyPaths = exists("vocab.json") ? (file("vocab.json"), file("merges.txt")) : nil
        wordPieceVocabularyPath = layout == .transformers && exists("vocab.txt") ? file("vocab.txt") : nil
        tokenizerConfigurationPath = exists("tokenizer_config.json") ? file("tokenizer_config.json") : nil
        tokenizerFilePath = exists("tokenizer.json") ? file("tokenizer.json") : nil
        sentencePiecePath = exists("spiece.model") ? file("spiece.model") : nil
    }

    /// Every file the model needs, for copying it elsewhere.
    public var modelFiles: [String] {
        var files = [configurationPath, weightsPath]
        if let preprocessorPath { files.append(preprocessorPath) }
        if let vocabularyPaths { files += [vocabularyPaths.vocabulary, vocabularyPaths.merges] }
        if let wordPieceVocabularyPath { files.append(wordPieceVocabularyPath) }
        if let tokenizerConfigurationPath { files.append(tokenizerConfigurationPath) }
        if let tokenizerFilePath { files.append(tokenizerFilePath) }
        if let sentencePiecePath { files.append(sentencePiecePath) }
        return files
    }

    /// The size of the embeddings the model makes, from its configuration
    /// alone (without reading any weights).
    public func embeddingSize() throws(CLIPError) -> Int {
        try loadConfiguration().0.embeddingSize
    }

    /// Parses the configuration files into what the towers and the
    /// preprocessing need.
    func loadConfiguration() throws(CLIPError) -> (ModelConfiguration, PreprocessConfiguration, CheckpointNames, TextPooling) {
        switch layout {
        case .openCLIP:
            let file = try JSONFile.read(OpenCLIPConfigFile.self, path: configurationPath)
            let (model, preprocess, textPrefix, pooling) = try file.resolve(path: configurationPath)
            let siglip = model.vision.architecture == .siglip
            if siglip, tokenizerFilePath == nil {
                throw .missingFile(path: path + "/tokenizer.json")
            }
            let names = CheckpointNames(openCLIPTextPrefix: textPrefix, vision: model.vision.architecture)
            var resolved = model
            if case .clip = model.text.architecture, file.modelCfg.textCfg.hfTokenizerName?.isEmpty == false {
                // (Only a tower without the causal mask reads the padding.)
                resolved.text.huggingFaceTokenizer = true
                if model.text.bidirectional { resolved.text.padId = try huggingFacePadId() }
            }
            return (resolved, preprocess, names, pooling)
        case .transformers:
            let file = try JSONFile.read(TransformersConfigFile.self, path: configurationPath)
            var options = BertTokenizer.Options()
            if file.isChineseCLIP {
                guard wordPieceVocabularyPath != nil else { throw .missingFile(path: path + "/vocab.txt") }
                if let tokenizerConfigurationPath {
                    options = try JSONFile.read(TokenizerConfigFile.self, path: tokenizerConfigurationPath).options
                }
            }
            if file.isSiglip, tokenizerFilePath == nil, sentencePiecePath == nil {
                throw .missingFile(path: path + "/tokenizer.json")
            }
            let (model, pooling) = try file.resolve(path: configurationPath, tokenizer: options)
            var preprocess = PreprocessConfiguration(imageSize: model.vision.imageSize)
            if let preprocessorPath {
                let preprocessor = try JSONFile.read(TransformersPreprocessorFile.self, path: preprocessorPath)
                preprocess = try preprocessor.resolve(imageSize: model.vision.imageSize, path: preprocessorPath)
            }
            return (model, preprocess, CheckpointNames(layout: .transformers, openCLIPTextPrefix: "", siglip: file.isSiglip), pooling)
        }
    }
}

extension ModelDirectory {
    /// The id a Hugging Face CLIP tokenizer pads with, from its
    /// tokenizer_config.json: its pad_token, one of CLIP's two special
    /// tokens (the vocabulary's last two ids) or "!" (its first). open_clip
    /// uploads openai/clip-vit-large-patch14's beside its CLIP models, which
    /// pads with <|endoftext|>.
    func huggingFacePadId() throws(CLIPError) -> Int {
        guard let tokenizerConfigurationPath else { throw .missingFile(path: path + "/tokenizer_config.json") }
        let configuration = try JSONFile.read(TokenizerConfigFile.self, path: tokenizerConfigurationPath)
        if let kind = configuration.tokenizerClass, !["CLIPTokenizer", "CLIPTokenizerFast"].contains(kind) {
            throw .unsupportedArchitecture(path: tokenizerConfigurationPath, reason: "tokenizer_class \"\(kind)\" (only CLIP's BPE tokenizer)")
        }
        switch configuration.padToken?.content {
        case "<|endoftext|>": return 49407
        case "<|startoftext|>": return 49406
        case "!": return 0   // the first byte piece, what open_clip's own tokenizer's zeros stand for
        case let other?:
            throw .unsupportedArchitecture(path: tokenizerConfigurationPath, reason: "pad_token \"\(other)\" (only <|endoftext|>, <|startoftext|> or !)")
        case nil:
            throw .invalidVocabulary(path: tokenizerConfigurationPath, reason: "it has no pad_token to fill queries to the context length")
        }
    }

    /// Its tokenizer.json tokenizer (SigLIP 2's), framed and cut to
    /// `contextLength`. SigLIP 2 was trained on lower-cased text: in
    /// transformers' layout its queries are lower-cased first, as
    /// transformers' Siglip2Tokenizer does (`lowercase`); open_clip cleans
    /// them itself before the tokenizer (see `GemmaTokenizer.Cleaning`).
    func gemmaTokenizer(contextLength: Int, padId: Int?, lowercase: Bool = true) throws(CLIPError) -> GemmaTokenizer {
        guard let tokenizerFilePath else { throw .missingFile(path: path + "/tokenizer.json") }
        let file = try JSONFile.decode(TokenizerFile.self, from: try JSONFile.contents(of: tokenizerFilePath)) { reason in
            .invalidVocabulary(path: tokenizerFilePath, reason: reason)
        }
        let configuration = try tokenizerConfigurationPath.map { path throws(CLIPError) in try JSONFile.read(TokenizerConfigFile.self, path: path) }
        let specials = ["bos_token": configuration?.bosToken?.content ?? "<bos>", "eos_token": configuration?.eosToken?.content ?? "<eos>",
                        "pad_token": configuration?.padToken?.content ?? "<pad>"]
        return try file.resolve(path: tokenizerFilePath, lowercase: lowercase, frame: configuration?.frame, specialTokens: specials,
                                contextLength: contextLength, padId: padId)
    }

    /// Its spiece.model tokenizer (SigLIP's), as transformers' SiglipTokenizer
    /// configures it from tokenizer_config.json.
    func siglipTokenizer(contextLength: Int) throws(CLIPError) -> SiglipTokenizer {
        guard let sentencePiecePath else { throw .missingFile(path: path + "/spiece.model") }
        let bytes: [UInt8]
        do {
            bytes = try RegularFile.contents(of: sentencePiecePath, limit: SentencePieceModel.maximumSize)
        } catch .missing {
            throw .missingFile(path: sentencePiecePath)
        } catch {
            throw .cannotRead(path: sentencePiecePath, reason: error.reason)
        }
        let model = try SentencePieceModel(bytes: bytes, path: sentencePiecePath)
        let configuration = try tokenizerConfigurationPath.map { path throws(CLIPError) in try JSONFile.read(TokenizerConfigFile.self, path: path) }
        let end = configuration?.eosToken?.content ?? "</s>", unknown = configuration?.unkToken?.content ?? "<unk>"
        let pad = configuration?.padToken?.content ?? "</s>"
        return try SiglipTokenizer(model: model, specials: [end, unknown, pad] + (configuration?.additionalSpecialTokens?.map(\.content) ?? []),
                                   end: end, pad: pad, lowercase: configuration?.doLowerCase ?? true, contextLength: contextLength,
                                   path: sentencePiecePath)
    }

    /// The name of its tokenizer.json tokenizer in a prepared file: the
    /// files' identities, so that edited files are read again, and whether
    /// it lower-cases.
    func gemmaTokenizerKey(lowercase: Bool) -> String {
        let files = [tokenizerFilePath, tokenizerConfigurationPath].map { path in
            path.flatMap { WeightsFileIdentity(path: $0) }.map { "\($0.size)-\($0.modifiedAt)-\($0.changedAt)-\($0.inode)" } ?? "none"
        }
        return "tokenizer:tokenizer.json:\(files[0]):tokenizer_config.json:\(files[1]):lowercase:\(lowercase):v\(GemmaTokenizer.preparedVersion)"
    }
}

/// tokenizer_config.json: the BERT tokenizer's switches (absent: transformers'
/// defaults, lower-casing on, accents following it, CJK characters apart);
/// for a tokenizer.json, whether transformers frames each text with the
/// start and end tokens itself (add_bos_token / add_eos_token, which replace
/// the file's post-processor) and which those tokens are.
struct TokenizerConfigFile: Decodable {
    var doLowerCase: Bool?
    var tokenizeChineseChars: Bool?
    var stripAccents: Bool?
    var addBosToken: Bool?
    var addEosToken: Bool?
    var bosToken: TokenName?
    var eosToken: TokenName?
    var unkToken: TokenName?
    var padToken: TokenName?
    var additionalSpecialTokens: [TokenName]?
    var tokenizerClass: String?

    /// A special token, as a string or as an AddedToken's fields.
    struct TokenName: Decodable {
        var content: String

        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                content = text
            } else {
                struct Fields: Decodable { var content: String }
                content = try container.decode(Fields.self).content
            }
        }
    }

    enum CodingKeys: String, CodingKey {
        case doLowerCase = "do_lower_case", tokenizeChineseChars = "tokenize_chinese_chars", stripAccents = "strip_accents"
        case addBosToken = "add_bos_token", addEosToken = "add_eos_token", bosToken = "bos_token", eosToken = "eos_token"
        case unkToken = "unk_token", padToken = "pad_token", additionalSpecialTokens = "additional_special_tokens"
        case tokenizerClass = "tokenizer_class"
    }

    /// transformers' frame when the file sets either switch (absent ones are off).
    var frame: (bos: Bool, eos: Bool)? {
        addBosToken == nil && addEosToken == nil ? nil : (addBosToken ?? false, addEosToken ?? false)
    }

    var options: BertTokenizer.Options {
        BertTokenizer.Options(lowercase: doLowerCase ?? true, stripAccents: stripAccents, tokenizeChineseCharacters: tokenizeChineseChars ?? true)
    }
}
