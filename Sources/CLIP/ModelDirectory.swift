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
    }

    /// Every file the model needs, for copying it elsewhere.
    public var modelFiles: [String] {
        var files = [configurationPath, weightsPath]
        if let preprocessorPath { files.append(preprocessorPath) }
        if let vocabularyPaths { files += [vocabularyPaths.vocabulary, vocabularyPaths.merges] }
        if let wordPieceVocabularyPath { files.append(wordPieceVocabularyPath) }
        if let tokenizerConfigurationPath { files.append(tokenizerConfigurationPath) }
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
            return (model, preprocess, CheckpointNames(layout: .openCLIP, openCLIPTextPrefix: textPrefix), pooling)
        case .transformers:
            let file = try JSONFile.read(TransformersConfigFile.self, path: configurationPath)
            var options = BertTokenizer.Options()
            if file.isChineseCLIP {
                guard wordPieceVocabularyPath != nil else { throw .missingFile(path: path + "/vocab.txt") }
                if let tokenizerConfigurationPath {
                    options = try JSONFile.read(TokenizerConfigFile.self, path: tokenizerConfigurationPath).options
                }
            }
            let (model, pooling) = try file.resolve(path: configurationPath, tokenizer: options)
            var preprocess = PreprocessConfiguration(imageSize: model.vision.imageSize)
            if let preprocessorPath {
                let preprocessor = try JSONFile.read(TransformersPreprocessorFile.self, path: preprocessorPath)
                preprocess = try preprocessor.resolve(imageSize: model.vision.imageSize, path: preprocessorPath)
            }
            return (model, preprocess, CheckpointNames(layout: .transformers, openCLIPTextPrefix: ""), pooling)
        }
    }
}

/// tokenizer_config.json: the BERT tokenizer's switches (absent: transformers'
/// defaults, lower-casing on, accents following it, CJK characters apart).
struct TokenizerConfigFile: Decodable {
    var doLowerCase: Bool?
    var tokenizeChineseChars: Bool?
    var stripAccents: Bool?

    enum CodingKeys: String, CodingKey {
        case doLowerCase = "do_lower_case", tokenizeChineseChars = "tokenize_chinese_chars", stripAccents = "strip_accents"
    }

    var options: BertTokenizer.Options {
        BertTokenizer.Options(lowercase: doLowerCase ?? true, stripAccents: stripAccents, tokenizeChineseCharacters: tokenizeChineseChars ?? true)
    }
}
