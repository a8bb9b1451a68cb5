import Compute
import Imaging
import Foundation
import Testing
import TestSupport
@testable import CLIP

/// MobileCLIP 2's image tower (timm FastViT MCi) against open_clip 3.3.0 and
/// timm 1.0.31 themselves (scripts/make-mobileclip-fixtures.py): a test-size
/// tower of fastvit_mci0's kind whose weights, BatchNorm statistics and layer
/// scales are all random, stored in the training (unfused) form open_clip
/// checkpoints have, and folded at load.
@Suite("MobileCLIP 2: the FastViT MCi image tower")
struct FastViTTests {
    static let folder = Fixtures.path("models/oc-mobileclip2-t")

    func reference() throws -> Fixtures.TowerReference { try Fixtures.towerReference("oc-mobileclip2-t") }

    func tower(_ precision: Precision) throws -> (FastViTTower, WeightReader) {
        let reader = WeightReader(file: try TensorFile(path: Self.folder + "/open_clip_model.safetensors"), precision: precision)
        let tower = try FastViTTower(reader: reader, prefix: "visual.trunk.", shape: FastViTTower.Shape.known["test_fastvit_mci"]!,
                                     embeddingSize: 32)
        return (tower, reader)
    }

    @Test("the tower folded at load gives open_clip's embedding of the pixels open_clip made, within 1e-4, and uses every tensor of the image tower")
    func exact() throws {
        let reference = try reference()
        let (tower, reader) = try tower(.fp32)
        try reader.finish(ownedPrefixes: ["visual."])
        let embedding = tower.encode(pixels: reference.pixels.values, count: 1, size: 64).values
        let expected = try #require(reference.images.first { $0.file == reference.pixels.file }).embedding
        let scale = expected.map(abs).max()!
        let worst = zip(embedding, expected).map { abs($0 - $1) / scale }.max()!
        #expect(worst < 1e-4, "\(worst): \(embedding.prefix(4)) against \(expected.prefix(4))")
        // Two images at once give each its own embedding.
        let twice = tower.encode(pixels: reference.pixels.values + reference.pixels.values.reversed(), count: 2, size: 64)
        #expect(Array(twice.values.prefix(32)) == embedding)
        #expect(Array(twice.values.suffix(32)) != embedding)
    }

    @Test("int8 pointwise layers keep the embedding's direction (cosine ≥ 0.995 against float32)")
    func int8() throws {
        let reference = try reference()
        let float = try tower(.fp32).0.encode(pixels: reference.pixels.values, count: 1, size: 64).values
        let quantised = try tower(.int8).0.encode(pixels: reference.pixels.values, count: 1, size: 64).values
        let cosine = Compare.cosine(float, quantised)
        #expect(cosine >= 0.995, "\(cosine)")
    }

    @Test("int8 everywhere spoils a photo (cosine < 0.995); with the folded stem and downsampling 1 × 1 layers in float32, every photo keeps ≥ 0.995")
    func int8Layers() throws {
        let model = try CLIPModel(directory: Self.folder, towers: .image)
        func quantised(_ kinds: Set<FastViTTower.LayerKind>) throws -> FastViTTower {
            let reader = WeightReader(file: try TensorFile(path: Self.folder + "/open_clip_model.safetensors"), precision: .int8)
            return try FastViTTower(reader: reader, prefix: "visual.trunk.", shape: FastViTTower.Shape.known["test_fastvit_mci"]!,
                                    embeddingSize: 32, int8Layers: kinds)
        }
        let (float, everywhere, chosen) = (try tower(.fp32).0, try quantised(Set(FastViTTower.LayerKind.allCases)),
                                           try quantised(FastViTTower.int8Layers))
        var worst = (everywhere: 1.0, chosen: 1.0)
        for image in try reference().images {
            let pixels = model.preprocessor.pixelValues(try ImageDecoder().decode(path: Fixtures.path(image.file)).bitmap)
            let exact = float.encode(pixels: pixels, count: 1, size: 64).values
            worst.everywhere = min(worst.everywhere, Compare.cosine(exact, everywhere.encode(pixels: pixels, count: 1, size: 64).values))
            worst.chosen = min(worst.chosen, Compare.cosine(exact, chosen.encode(pixels: pixels, count: 1, size: 64).values))
        }
        #expect(worst.everywhere < 0.995 && worst.chosen >= 0.995, "\(worst)")
        #expect(FastViTTower.int8Layers == [.mlpIn, .mlpOut, .attention, .head])
    }

    @Test("MobileCLIP2-S0 and -S3 at full size read exactly the tensors open_clip's configurations hold, with their shapes",
          arguments: [("s0", "fastvit_mci0"), ("s3", "fastvit_mci3")])
    func fullSizeTensors(listing: String, tower: String) throws {
        let expected = try Fixtures.tensorListing("mobileclip2-\(listing)")
        let described = try CLIPModel.checkpointTensors(.mobileCLIP2(tower), towers: .both)
        #expect(described.count == expected.count)
        #expect(Dictionary(uniqueKeysWithValues: described.map { ($0.name, $0.shape) }) == expected)
    }

    @Test("a random MobileCLIP2-S0 image tower written as open_clip's hub folder loads, and embeds a 256 px photo in 512 finite values")
    func randomFullSize() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("photosearch-mobileclip2-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try RandomCheckpoint.write(.mobileCLIP2("fastvit_mci0"), towers: .image, to: folder)
        let model = try CLIPModel(directory: folder, towers: .image, precision: .int8)
        #expect(model.configuration.vision.imageSize == 256 && model.preprocessor.configuration.mean == [0, 0, 0])
        let embedding = model.encode(images: [try ImageDecoder().decode(path: Fixtures.path("photos/rocket.jpg")).bitmap])[0]
        #expect(embedding.count == 512 && embedding.allSatisfy(\.isFinite) && embedding.contains { $0 != 0 })
    }

    @Test("configurations it does not implement are refused by name: fastvit_sa12, a Hugging Face tokenizer without its files, another pooling, a size off the stride")
    func refusals() throws {
        try Fixtures.expectRefusals("oc-mobileclip2-t", [
            (#""timm_model_name": "test_fastvit_mci""#, #""timm_model_name": "fastvit_sa12""#, "\"fastvit_sa12\" (supported timm image towers: MobileCLIP 2"),
            // A Hugging Face tokenizer pads with its pad_token: without its tokenizer_config.json, it is unknown.
            (#""no_causal_mask": true"#, #""no_causal_mask": true, "hf_tokenizer_name": "timm/MobileCLIP2-S0-OpenCLIP""#, "tokenizer_config.json"),
            (#""timm_pool": "avg""#, #""timm_pool": "token""#, "vision_cfg.timm_pool \"token\" with test_fastvit_mci (only \"avg\")"),
            (#""image_size": 64"#, #""image_size": 80"#, "vision_cfg.image_size 80x80 is not a square multiple of 32"),
        ])
    }

    /// oc-mobileclip2-t's weights in a folder whose configuration names
    /// hf_tokenizer_name, with the tokenizer_config.json open_clip uploads
    /// beside it (`replacing` edits that file).
    func huggingFaceTokenizerFolder(replacing: (String, String)? = nil) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("photosearch-mobileclip-hf-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.folder + "/open_clip_model.safetensors", toPath: folder + "/open_clip_model.safetensors")
        let source = Fixtures.path("reference/oc-mobileclip2-t-hf")
        try FileManager.default.copyItem(atPath: source + "/open_clip_config.json", toPath: folder + "/open_clip_config.json")
        var tokenizerConfiguration = try String(contentsOfFile: source + "/tokenizer_config.json", encoding: .utf8)
        if let (from, to) = replacing {
            #expect(tokenizerConfiguration.contains(from))
            tokenizerConfiguration = tokenizerConfiguration.replacingOccurrences(of: from, with: to)
        }
        try tokenizerConfiguration.write(toFile: folder + "/tokenizer_config.json", atomically: true, encoding: .utf8)
        return folder
    }

    @Test("with hf_tokenizer_name, ids padded with the Hugging Face tokenizer's pad_token and text embeddings equal open_clip's HFTokenizer path")
    func huggingFaceTokenizer() throws {
        struct Reference: Decodable {
            struct Text: Decodable { let text: String; let ids: [Int]; let embedding: [Float] }
            let padId: Int
            let texts: [Text]
            let minCosineAgainstZeroPadding: Double
            enum CodingKeys: String, CodingKey { case padId = "pad_id", texts, minCosineAgainstZeroPadding = "min_cosine_against_zero_padding" }
        }
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("reference/oc-mobileclip2-t-hf.json"))))
        // The padding matters: open_clip's own zeros give other embeddings.
        #expect(reference.padId == 49407 && reference.minCosineAgainstZeroPadding < 0.99)
        let folder = try huggingFaceTokenizerFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let model = try CLIPModel(directory: folder, towers: .text, precision: .fp32)
        guard case let .clip(tower)? = model.text else { Issue.record("not a CLIP text tower"); return }
        #expect(tower.padId == 49407)
        for text in reference.texts {
            let ids = model.tokenizer?.tokenize(text.text) ?? []
            #expect(ids + [Int](repeating: 49407, count: 77 - ids.count) == text.ids, "\(text.text.debugDescription)")
        }
        let embeddings = model.encode(texts: reference.texts.map(\.text))
        for (text, embedding) in zip(reference.texts, embeddings) {
            #expect(Compare.maxRelativeDifference(embedding, text.embedding) <= 1e-4, "\(text.text.debugDescription)")
        }
    }

    @Test("a Hugging Face tokenizer that is not CLIP's, or pads with another token, is refused by name",
          arguments: [(#""tokenizer_class": "CLIPTokenizer""#, #""tokenizer_class": "BertTokenizer""#, "tokenizer_class \"BertTokenizer\""),
                      (#""pad_token": "<|endoftext|>""#, #""pad_token": "<pad>""#, "pad_token \"<pad>\"")])
    func huggingFaceTokenizerRefusals(from: String, to: String, message: String) throws {
        let folder = try huggingFaceTokenizerFolder(replacing: (from, to))
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect {
            _ = try CLIPModel(directory: folder, towers: .text)
        } throws: { error in
            "\(error)".replacingOccurrences(of: "\\\"", with: "\"").contains(message)
        }
    }

    @Test("timm's make_divisible(v, 8) for the downsampling squeeze-excite widths")
    func divisible() {
        #expect([8, 16, 64, 128, 160, 80].map { FastViTTower.divisible($0) } == [8, 16, 64, 128, 160, 80])
        #expect([3, 12, 20, 36].map { FastViTTower.divisible($0) } == [8, 16, 24, 40])
    }
}
