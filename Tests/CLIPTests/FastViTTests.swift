import Compute
import Imaging
import Foundation
import Testing
@testable import CLIP

/// MobileCLIP 2's image tower (timm FastViT MCi) against open_clip 3.3.0 and
/// timm 1.0.31 themselves (scripts/make-mobileclip-fixtures.py): a test-size
/// tower of fastvit_mci0's kind whose weights, BatchNorm statistics and layer
/// scales are all random, stored in the training (unfused) form open_clip
/// checkpoints have, and folded at load.
@Suite("MobileCLIP 2: the FastViT MCi image tower")
struct FastViTTests {
    struct Reference: Decodable {
        struct Pixels: Decodable { let file: String; let values: [Float] }
        struct Image: Decodable { let file: String; let embedding: [Float] }
        let pixels: Pixels
        let images: [Image]
    }

    static let folder = Fixtures.path("models/oc-mobileclip2-t")

    func reference() throws -> Reference {
        try JSONDecoder().decode(Reference.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("reference/oc-mobileclip2-t.json"))))
    }

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
        let cosine = Self.cosine(float, quantised)
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
            worst.everywhere = min(worst.everywhere, Self.cosine(exact, everywhere.encode(pixels: pixels, count: 1, size: 64).values))
            worst.chosen = min(worst.chosen, Self.cosine(exact, chosen.encode(pixels: pixels, count: 1, size: 64).values))
        }
        #expect(worst.everywhere < 0.995 && worst.chosen >= 0.995, "\(worst)")
        #expect(FastViTTower.int8Layers == [.mlpIn, .mlpOut, .attention, .head])
    }

    static func cosine(_ x: [Float], _ y: [Float]) -> Double {
        var dot = 0.0, a = 0.0, b = 0.0
        for (x, y) in zip(x, y) {
            dot += Double(x) * Double(y)
            a += Double(x) * Double(x)
            b += Double(y) * Double(y)
        }
        return dot / (a.squareRoot() * b.squareRoot())
    }

    @Test("timm's make_divisible(v, 8) for the downsampling squeeze-excite widths")
    func divisible() {
        #expect([8, 16, 64, 128, 160, 80].map { FastViTTower.divisible($0) } == [8, 16, 64, 128, 160, 80])
        #expect([3, 12, 20, 36].map { FastViTTower.divisible($0) } == [8, 16, 24, 40])
    }
}
