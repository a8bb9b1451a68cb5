import Foundation
import TestSupport

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
