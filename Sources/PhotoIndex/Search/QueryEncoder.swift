import CLIP
import Foundation
import Imaging

/// Turns a `SearchQuery` into one vector: each term's L2-normalised
/// embedding times its signed weight, summed and normalised again. An example
/// photo already in the index uses its stored vector; any other image is
/// decoded and embedded.
public struct QueryEncoder {
    public let model: CLIPModel?
    public let searcher: PhotoSearcher

    public enum EncodingError: LocalizedError, Equatable {
        case cancelsOut
        case needsTower(String)

        public var errorDescription: String? {
            switch self {
            case .cancelsOut: return "the query's terms cancel each other out"
            case let .needsTower(tower): return "the query needs the model's \(tower) tower"
            }
        }
    }

    public init(model: CLIPModel?, searcher: PhotoSearcher) {
        self.model = model
        self.searcher = searcher
    }

    /// Which towers `query` needs: text for text terms, image for example
    /// photos that are not in the index.
    public static func towers(for query: SearchQuery, searcher: PhotoSearcher) throws -> CLIPModel.Towers {
        var towers: CLIPModel.Towers = []
        if !query.texts.isEmpty { towers.insert(.text) }
        for path in query.imagePaths where try searcher.storedVector(path: path) == nil {
            towers.insert(.image)
        }
        return towers
    }

    /// The combined query vector, and the indexed photos the query names
    /// (search by example usually wants them left out of the results).
    public func vector(for query: SearchQuery) throws -> (vector: [Float], examplePhotos: Set<Int64>) {
        var textVectors: [[Float]] = []
        if !query.texts.isEmpty {
            guard let model, model.hasTextTower else { throw EncodingError.needsTower("text") }
            textVectors = model.encode(texts: query.texts)
        }
        var combined = [Float](repeating: 0, count: searcher.model.embeddingSize)
        var examples = Set<Int64>()
        var nextText = 0
        for part in query.parts {
            let vector: [Float]
            switch part.term {
            case .text:
                vector = textVectors[nextText]
                nextText += 1
            case let .image(path):
                if let stored = try searcher.storedVector(path: path) {
                    vector = stored.vector
                    examples.insert(stored.photoID)
                } else {
                    guard let model, model.hasImageTower else { throw EncodingError.needsTower("image") }
                    let photo = try ImageDecoder().decode(path: path, minimumShortSide: model.configuration.vision.imageSize)
                    vector = model.encode(images: [photo.bitmap])[0]
                }
            }
            let unit = CLIPModel.normalized(vector)
            for index in combined.indices { combined[index] += Float(part.weight) * unit[index] }
        }
        let norm = combined.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        guard norm > 1e-6 else { throw EncodingError.cancelsOut }
        return (combined.map { Float(Double($0) / norm) }, examples)
    }
}
