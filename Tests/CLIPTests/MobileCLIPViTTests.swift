import Foundation
import Imaging
import Testing
import TestSupport
@testable import CLIP

/// MobileCLIP 2's ViT members against open_clip 3.3.0 and timm 1.0.31
/// themselves (scripts/make-mobileclip-fixtures.py --vit): MobileCLIP2-B's
/// vit_base_mci_224 (a ViT over timm's convolutional stem, positions on the
/// patches only) and -L-14's vit_large_patch14_clip_224, each at a test size
/// with random weights and BatchNorm statistics. Their embeddings are checked
/// with every fixture model's (ReferenceEmbeddingTests, QuantizedEmbeddingTests);
/// these check what those cannot: the tower's pixels alone, the full-size
/// tensors, and the configurations refused.
@Suite("MobileCLIP 2: the ViT-B/16 (convolutional stem) and ViT-L/14 image towers")
struct MobileCLIPViTTests {
    struct Reference: Decodable {
        struct Pixels: Decodable { let file: String; let values: [Float] }
        struct Image: Decodable { let file: String; let embedding: [Float] }
        let pixels: Pixels
        let images: [Image]
    }

    static let models = ["oc-mobileclip2-b-t", "oc-mobileclip2-l-t"]

    @Test("open_clip's own pixels give its embedding within 1e-4, through the stem's folded BatchNorms", arguments: models)
    func towerAlone(model name: String) throws {
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("reference/\(name).json"))))
        let model = try CLIPModel(directory: Fixtures.path("models/\(name)"), towers: .image, precision: .fp32)
        guard case let .vit(tower)? = model.vision else { Issue.record("not a ViT tower"); return }
        let embedding = tower.encode(pixels: reference.pixels.values, count: 1).values
        let expected = try #require(reference.images.first { $0.file == reference.pixels.file }).embedding
        #expect(Compare.maxRelativeDifference(embedding, expected) <= 1e-4)
        // The preprocessing made those pixels too.
        let pixels = model.preprocessor.pixelValues(try ImageDecoder().decode(path: Fixtures.path(reference.pixels.file)).bitmap)
        #expect(Compare.maxRelativeDifference(pixels, reference.pixels.values) <= 1e-5)
    }

    @Test("MobileCLIP2-B and -L-14 at full size read exactly the tensors open_clip's configurations hold, with their shapes",
          arguments: [("mobileclip2-b", "vit_base_mci_224"), ("mobileclip2-l-14", "vit_large_patch14_clip_224")])
    func fullSizeTensors(listing: String, tower: String) throws {
        // open_clip.create_model('MobileCLIP2-B').state_dict(): name, shape, dtype.
        let listed = try String(contentsOfFile: Fixtures.path("reference/\(listing)-keys.txt"), encoding: .utf8)
            .split(separator: "\n").filter { !$0.hasPrefix("#") }.map { $0.split(separator: "\t") }
        let expected = Dictionary(uniqueKeysWithValues: listed.map { fields in
            (String(fields[0]), fields[1].filter { $0.isNumber || $0 == "," }.split(separator: ",").map { Int($0)! })
        }).filter { !$0.key.hasSuffix("num_batches_tracked") && $0.key != "logit_scale" }
        let described = try CLIPModel.checkpointTensors(.mobileCLIP2(tower), towers: .both)
        #expect(described.count == expected.count)
        #expect(Dictionary(uniqueKeysWithValues: described.map { ($0.name, $0.shape) }) == expected)
    }

    @Test("configurations it does not implement are refused by name: another pooling, a projection, another size, another tower")
    func refusals() throws {
        let source = Fixtures.path("models/oc-mobileclip2-b-t")
        let config = try String(contentsOfFile: source + "/open_clip_config.json", encoding: .utf8)
        for (from, to, message) in [
            (#""timm_pool": "token""#, #""timm_pool": "avg""#, "vision_cfg.timm_pool \"avg\" with test_vit_mci (only \"token\")"),
            (#""timm_proj": null"#, #""timm_proj": "linear""#, "vision_cfg.timm_proj \"linear\" with test_vit_mci (only null"),
            (#""image_size": 64"#, #""image_size": 96"#, "vision_cfg.image_size 96x96 differs from test_vit_mci"),
            (#""timm_model_name": "test_vit_mci""#, #""timm_model_name": "vit_base_mci_384""#, "\"vit_base_mci_384\" (supported timm image towers"),
        ] {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("photosearch-mobileclip-vit-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: folder) }
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: source + "/open_clip_model.safetensors", toPath: folder + "/open_clip_model.safetensors")
            #expect(config.contains(from), "\(from)")
            try config.replacingOccurrences(of: from, with: to).write(toFile: folder + "/open_clip_config.json", atomically: true, encoding: .utf8)
            #expect {
                _ = try CLIPModel(directory: folder)
            } throws: { error in
                "\(error)".replacingOccurrences(of: "\\\"", with: "\"").contains(message)
            }
        }
    }
}
