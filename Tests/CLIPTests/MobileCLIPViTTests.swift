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
    static let models = ["oc-mobileclip2-b-t", "oc-mobileclip2-l-t"]

    @Test("open_clip's own pixels give its embedding within 1e-4, through the stem's folded BatchNorms", arguments: models)
    func towerAlone(model name: String) throws {
        let reference = try Fixtures.towerReference(name)
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
        let expected = try Fixtures.tensorListing(listing)
        let described = try CLIPModel.checkpointTensors(.mobileCLIP2(tower), towers: .both)
        #expect(described.count == expected.count)
        #expect(Dictionary(uniqueKeysWithValues: described.map { ($0.name, $0.shape) }) == expected)
    }

    @Test("configurations it does not implement are refused by name: another pooling, a projection, another size, another tower")
    func refusals() throws {
        try Fixtures.expectRefusals("oc-mobileclip2-b-t", [
            (#""timm_pool": "token""#, #""timm_pool": "avg""#, "vision_cfg.timm_pool \"avg\" with test_vit_mci (only \"token\")"),
            (#""timm_proj": null"#, #""timm_proj": "linear""#, "vision_cfg.timm_proj \"linear\" with test_vit_mci (only null"),
            (#""image_size": 64"#, #""image_size": 96"#, "vision_cfg.image_size 96x96 differs from test_vit_mci"),
            (#""timm_model_name": "test_vit_mci""#, #""timm_model_name": "vit_base_mci_384""#, "\"vit_base_mci_384\" (supported timm image towers"),
        ])
    }
}
