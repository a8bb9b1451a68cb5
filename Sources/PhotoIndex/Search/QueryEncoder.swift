import CLIP
import Compute
import Imaging

/// Turns a `SearchQuery` into one vector: each term's L2-normalised
/// embedding times its signed weight, summed and normalised again. An example
/// photo already in the index uses its stored vector; any other image is
/// decoded and embedded. Towers are loaded only when a term needs them, and
/// the model is checked against the index's before its first use; texts
/// embedded before are remembered (`RecentTextEmbeddings`).
struct QueryEncoder {
    let searcher: PhotoSearcher
    let models: ModelLoader?

    /// The combined query vector, the indexed photos the query names
    /// (search by example usually wants them left out of the results), and
    /// for a query of one text, the model's calibration (SigLIP's: a score
    /// is then a match probability).
    func vector(for query: SearchQuery) throws(PhotoIndexError) -> (vector: [Float], examplePhotos: Set<Int64>, calibration: MatchCalibration?) {
        var textVectors: [[Float]] = []
        var calibration: MatchCalibration?
        if !query.texts.isEmpty {
            guard let models else { throw .noModel }
            let model = try model(with: .text)
            if query.parts.count == 1, query.parts[0].weight == 1 { calibration = model.calibration }
            textVectors = models.embeddings(of: query.texts, by: model)
            guard textVectors.allSatisfy({ $0.allSatisfy(\.isFinite) }) else {
                throw .model(.nonFiniteEmbedding(path: model.directory ?? "", tower: "text"))
            }
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
                if let stored = try searcher.storedVector(path: path), stored.vector.allSatisfy(\.isFinite) {
                    vector = stored.vector
                    examples.insert(stored.photoID)
                } else {
                    let model = try model(with: .image)
                    let photo: DecodedPhoto
                    do {
                        photo = try ImageDecoder().decode(path: path, minimumShortSide: model.configuration.vision.imageSize)
                    } catch {
                        throw .unreadableImage(error)
                    }
                    vector = model.encode(images: [photo.bitmap])[0]
                    guard vector.allSatisfy(\.isFinite) else {
                        throw .model(.nonFiniteEmbedding(path: model.directory ?? "", tower: "image"))
                    }
                }
            }
            let unit = VectorMath.normalized(vector)
            for index in combined.indices { combined[index] += Float(part.weight) * unit[index] }
        }
        // Cancelled: next to nothing is left of the weights that went in
        // (relative: one light term is not a cancellation).
        let norm = combined.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        guard norm > 1e-6 * query.parts.reduce(0.0, { $0 + abs($1.weight) }) else { throw .queryCancelsOut }
        return (combined.map { Float(Double($0) / norm) }, examples, calibration)
    }

    /// The embedding of an image given as bytes (an upload), L2-normalised.
    func vector(forImage bytes: [UInt8]) throws(PhotoIndexError) -> [Float] {
        let model = try model(with: .image)
        let photo: DecodedPhoto
        do {
            photo = try ImageDecoder().decode(bytes: bytes, path: "(the image sent)", minimumShortSide: model.configuration.vision.imageSize)
        } catch {
            throw .unreadableImage(error)
        }
        let vector = model.encode(images: [photo.bitmap])[0]
        guard vector.allSatisfy(\.isFinite) else { throw .model(.nonFiniteEmbedding(path: model.directory ?? "", tower: "image")) }
        return VectorMath.normalized(vector)
    }

    /// The model with `tower`, after checking (before loading anything) that
    /// it is the index's model.
    private func model(with tower: CLIPModel.Towers) throws(PhotoIndexError) -> CLIPModel {
        guard let models else { throw .noModel }
        try searcher.verify(try models.identity(known: [searcher.model]))
        // The query in the arithmetic the index's embeddings were made in.
        return try models.model(with: tower, precision: searcher.model.precision)
    }
}
