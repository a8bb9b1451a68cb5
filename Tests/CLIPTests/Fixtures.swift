import Foundation
import TestSupport
import Testing
@testable import CLIP

/// Paths into the repository's fixtures/ folder and the reference files the
/// fixture script wrote (scripts/make-reference-fixtures.py).
enum Fixtures {
    static func path(_ relative: String) -> String { FixtureFiles.path(relative) }

    /// What open_clip or transformers computed for one fixture model.
    struct Reference: Decodable {
        struct Image: Decodable {
            let file: String
            let embedding: [Float]
        }

        struct Text: Decodable {
            let text: String
            let ids: [Int]
            let embedding: [Float]
        }

        let model: String
        let layout: String
        var directory: String
        let versions: [String: String]
        let images: [Image]
        let texts: [Text]
    }

    /// `cn-clip-vit-p8-bin` holds the weights of `cn-clip-vit-p8` as a
    /// PyTorch pickle archive: the same reference, another folder.
    static func reference(_ model: String) throws -> Reference {
        let file = model == "cn-clip-vit-p8-bin" ? "cn-clip-vit-p8" : model
        let data = try Data(contentsOf: URL(fileURLWithPath: path("reference/\(file).json")))
        var reference = try JSONDecoder().decode(Reference.self, from: data)
        if model != file { reference.directory = "models/\(model)" }
        return reference
    }

    /// A fixture's image embeddings with the pixels open_clip fed its tower
    /// for one photo (the MobileCLIP fixtures).
    struct TowerReference: Decodable {
        struct Pixels: Decodable { let file: String; let values: [Float] }
        struct Image: Decodable { let file: String; let embedding: [Float] }
        let pixels: Pixels
        let images: [Image]
    }

    static func towerReference(_ model: String) throws -> TowerReference {
        try JSONDecoder().decode(TowerReference.self, from: Data(contentsOf: URL(fileURLWithPath: path("reference/\(model).json"))))
    }

    /// reference/<listing>-keys.txt (scripts/make-mobileclip-fixtures.py
    /// --keys): the tensors open_clip's own full-size model holds, by name,
    /// with their shapes; its step counters and logit scale left out.
    static func tensorListing(_ listing: String) throws -> [String: [Int]] {
        let lines = try String(contentsOfFile: path("reference/\(listing)-keys.txt"), encoding: .utf8)
            .split(separator: "\n").filter { !$0.hasPrefix("#") }.map { $0.split(separator: "\t") }
        return Dictionary(uniqueKeysWithValues: lines.map { fields in
            (String(fields[0]), fields[1].filter { $0.isNumber || $0 == "," }.split(separator: ",").map { Int($0)! })
        }).filter { !$0.key.hasSuffix("num_batches_tracked") && $0.key != "logit_scale" }
    }

    /// For each (from, to, message): `model`'s weights beside its
    /// open_clip_config.json with `from` replaced by `to` must be refused
    /// with an error that says `message`.
    static func expectRefusals(_ model: String, _ cases: [(String, String, String)],
                               sourceLocation: SourceLocation = #_sourceLocation) throws {
        let source = path("models/\(model)")
        let config = try String(contentsOfFile: source + "/open_clip_config.json", encoding: .utf8)
        for (from, to, message) in cases {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("photosearch-refused-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: folder) }
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: source + "/open_clip_model.safetensors", toPath: folder + "/open_clip_model.safetensors")
            #expect(config.contains(from), "\(from)", sourceLocation: sourceLocation)
            try config.replacingOccurrences(of: from, with: to).write(toFile: folder + "/open_clip_config.json", atomically: true, encoding: .utf8)
            #expect(sourceLocation: sourceLocation) {
                _ = try CLIPModel(directory: folder)
            } throws: { error in
                "\(error)".replacingOccurrences(of: "\\\"", with: "\"").contains(message)
            }
        }
    }

    static let models = ["oc-vit-gelu-p16", "hf-vit-quickgelu-p8", "oc-vit-quickgelu-p8", "cn-clip-vit-p8", "cn-clip-vit-p8-bin", "siglip2-p8", "siglip-p8", "oc-siglip2-p8", "oc-mobileclip2-t", "oc-mobileclip2-s3-t", "oc-mobileclip2-b-t", "oc-mobileclip2-l-t"]
}

/// Comparisons with the tolerances the acceptance criteria state.
enum Compare {
    /// max |a - b| / max(1, |b|) over the elements.
    static func maxRelativeDifference(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count)
        var worst: Float = 0
        for (x, y) in zip(a, b) { worst = max(worst, abs(x - y) / max(1, abs(y))) }
        return worst
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        var dot = 0.0, na = 0.0, nb = 0.0
        for (x, y) in zip(a, b) {
            dot += Double(x) * Double(y)
            na += Double(x) * Double(x)
            nb += Double(y) * Double(y)
        }
        return dot / (na.squareRoot() * nb.squareRoot())
    }
}
