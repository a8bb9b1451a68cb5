import Foundation

/// Writes an open_clip hub folder (open_clip_config.json and
/// open_clip_model.safetensors, F32) from tensors: benchmarks load it as a
/// user's model would be loaded. The safetensors format is the one
/// `TensorFile` reads.
enum CheckpointWriter {
    private struct Entry: Encodable {
        let dtype = "F32"
        let shape: [Int]
        let dataOffsets: [Int]

        enum CodingKeys: String, CodingKey { case dtype, shape, dataOffsets = "data_offsets" }
    }

    /// open_clip_config.json, the fields open_clip's `push_to_hf_hub` writes
    /// for a ViT CLIP (see `OpenCLIPConfigFile`).
    private struct Config: Encodable {
        struct Vision: Encodable {
            let imageSize, patchSize, width, layers, headWidth: Int
            let mlpRatio: Double

            enum CodingKeys: String, CodingKey {
                case imageSize = "image_size", patchSize = "patch_size", width, layers, headWidth = "head_width"
                case mlpRatio = "mlp_ratio"
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

            enum CodingKeys: String, CodingKey {
                case embedDim = "embed_dim", quickGelu = "quick_gelu", visionCfg = "vision_cfg", textCfg = "text_cfg"
            }
        }

        struct Preprocess: Encodable {
            let mean: [Float]
            let std: [Float]
        }

        let modelCfg: Model
        let preprocessCfg: Preprocess

        enum CodingKeys: String, CodingKey { case modelCfg = "model_cfg", preprocessCfg = "preprocess_cfg" }
    }

    static func write(_ tensors: [(name: String, shape: [Int], values: [Float])], configuration: ModelConfiguration,
                      to directory: String) throws(CLIPError) {
        let weightsPath = directory + "/open_clip_model.safetensors"
        let configPath = directory + "/open_clip_config.json"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            var entries: [String: Entry] = [:]
            var offset = 0
            for tensor in tensors {
                let bytes = tensor.values.count * 4
                entries[tensor.name] = Entry(shape: tensor.shape, dataOffsets: [offset, offset + bytes])
                offset += bytes
            }
            var header = Array(try encoder.encode(entries))
            while header.count % 8 != 0 { header.append(0x20) }   // the data starts 8-byte aligned
            guard FileManager.default.createFile(atPath: weightsPath, contents: nil) else {
                throw CLIPError.cannotWrite(path: weightsPath, reason: "cannot create the file")
            }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: weightsPath))
            defer { try? handle.close() }
            try handle.write(contentsOf: withUnsafeBytes(of: UInt64(header.count).littleEndian) { Data($0) })
            try handle.write(contentsOf: Data(header))
            for tensor in tensors {
                try handle.write(contentsOf: tensor.values.withUnsafeBufferPointer { Data(buffer: $0) })
            }

            let vision = configuration.vision, text = configuration.text
            let config = Config(
                modelCfg: .init(
                    embedDim: configuration.embeddingSize, quickGelu: vision.transformer.activation == .quickGelu,
                    visionCfg: .init(imageSize: vision.imageSize, patchSize: vision.patchSize, width: vision.transformer.width,
                                     layers: vision.transformer.layers, headWidth: vision.transformer.headWidth,
                                     mlpRatio: Double(vision.transformer.mlpWidth) / Double(vision.transformer.width)),
                    textCfg: .init(contextLength: text.contextLength, vocabSize: text.vocabularySize, width: text.transformer.width,
                                   heads: text.transformer.heads, layers: text.transformer.layers,
                                   mlpRatio: Double(text.transformer.mlpWidth) / Double(text.transformer.width))),
                preprocessCfg: .init(mean: PreprocessConfiguration.openAIMean, std: PreprocessConfiguration.openAIStd))
            try encoder.encode(config).write(to: URL(fileURLWithPath: configPath))
        } catch let error as CLIPError {
            throw error
        } catch {
            throw .cannotWrite(path: directory, reason: (error as NSError).localizedFailureReason ?? error.localizedDescription)
        }
    }
}
