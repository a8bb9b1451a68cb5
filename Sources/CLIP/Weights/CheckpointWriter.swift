import Foundation

/// Writes an open_clip hub folder from tensors (benchmarks; the format is the
/// one `SafetensorsFile` reads).
enum CheckpointWriter {
    static func write(_ tensors: [(name: String, shape: [Int], values: [Float])], configuration: ModelConfiguration,
                      to directory: String) throws(CLIPError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            var entries: [String] = []
            var offset = 0
            for tensor in tensors {
                let bytes = tensor.values.count * 4
                entries.append("\"\(tensor.name)\":{\"dtype\":\"F32\",\"shape\":[\(tensor.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}")
                offset += bytes
            }
            var header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
            while header.count % 8 != 0 { header.append(0x20) }
            let path = (directory as NSString).appendingPathComponent("open_clip_model.safetensors")
            FileManager.default.createFile(atPath: path, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            try handle.write(contentsOf: withUnsafeBytes(of: UInt64(header.count).littleEndian) { Data($0) })
            try handle.write(contentsOf: Data(header))
            for tensor in tensors {
                try handle.write(contentsOf: tensor.values.withUnsafeBufferPointer { Data(buffer: $0) })
            }
            let vision = configuration.vision, text = configuration.text
            let quickGelu = vision.transformer.activation == .quickGelu
            let config = """
                {"model_cfg": {"embed_dim": \(configuration.embeddingSize), "quick_gelu": \(quickGelu),
                  "vision_cfg": {"image_size": \(vision.imageSize), "patch_size": \(vision.patchSize), "width": \(vision.transformer.width),
                                 "layers": \(vision.transformer.layers), "head_width": \(vision.transformer.headWidth),
                                 "mlp_ratio": \(Double(vision.transformer.mlpWidth) / Double(vision.transformer.width))},
                  "text_cfg": {"context_length": \(text.contextLength), "vocab_size": \(text.vocabularySize), "width": \(text.transformer.width),
                               "heads": \(text.transformer.heads), "layers": \(text.transformer.layers),
                               "mlp_ratio": \(Double(text.transformer.mlpWidth) / Double(text.transformer.width))}},
                 "preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073], "std": [0.26862954, 0.26130258, 0.27577711]}}
                """
            try Data(config.utf8).write(to: URL(fileURLWithPath: (directory as NSString).appendingPathComponent("open_clip_config.json")))
        } catch {
            throw .cannotRead(path: directory, reason: "cannot write the checkpoint: \(error.localizedDescription)")
        }
    }
}
