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
        if exists("open_clip_config.json") {
            layout = .openCLIP
            configurationPath = file("open_clip_config.json")
            weightsPath = file("open_clip_model.safetensors")
            guard exists("open_clip_model.safetensors") else {
                if exists("open_clip_pytorch_model.bin") {
                    throw .unsupportedArchitecture(path: file("open_clip_pytorch_model.bin"),
                                                   reason: "PyTorch pickle weights; photosearch reads open_clip_model.safetensors")
                }
                throw .missingFile(path: weightsPath)
            }
        } else if exists("config.json") {
            layout = .transformers
            configurationPath = file("config.json")
            weightsPath = file("model.safetensors")
            guard exists("model.safetensors") else {
                if exists("model.safetensors.index.json") {
                    throw .unsupportedArchitecture(path: file("model.safetensors.index.json"),
                                                   reason: "sharded checkpoints are not supported; save the model as one model.safetensors")
                }
                if exists("pytorch_model.bin") {
                    throw .unsupportedArchitecture(path: file("pytorch_model.bin"),
                                                   reason: "PyTorch pickle weights; photosearch reads model.safetensors")
                }
                throw .missingFile(path: weightsPath)
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
    }

    /// Every file the model needs, for copying it elsewhere.
    public var modelFiles: [String] {
        var files = [configurationPath, weightsPath]
        if let preprocessorPath { files.append(preprocessorPath) }
        if let vocabularyPaths { files += [vocabularyPaths.vocabulary, vocabularyPaths.merges] }
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
            let (model, pooling) = try file.resolve(path: configurationPath)
            var preprocess = PreprocessConfiguration(imageSize: model.vision.imageSize)
            if let preprocessorPath {
                let preprocessor = try JSONFile.read(TransformersPreprocessorFile.self, path: preprocessorPath)
                preprocess = try preprocessor.resolve(imageSize: model.vision.imageSize, path: preprocessorPath)
            }
            return (model, preprocess, CheckpointNames(layout: .transformers, openCLIPTextPrefix: ""), pooling)
        }
    }
}
