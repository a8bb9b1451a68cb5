import Foundation
import Imaging
import Testing
@testable import CLIP

/// int8 embeddings against the reference implementations' float32 ones: the
/// quality bar of a compressed model.
@Suite("int8 embeddings stay close to open_clip's and transformers' float32")
struct QuantizedEmbeddingTests {
    @Test("every image and text of every fixture model: cosine ≥ 0.995", arguments: Fixtures.models)
    func closeToReference(model name: String) throws {
        let reference = try Fixtures.reference(name)
        let model = try CLIPModel(directory: Fixtures.path(reference.directory), precision: .int8)
        let decoder = ImageDecoder()
        var worst = 1.0
        for image in reference.images {
            let embedding = model.encode(images: [try decoder.decode(path: Fixtures.path(image.file)).bitmap])[0]
            let cosine = Compare.cosine(embedding, image.embedding)
            worst = min(worst, cosine)
            #expect(cosine >= 0.995, "\(name) \(image.file): \(cosine)")
        }
        for (text, embedding) in zip(reference.texts, model.encode(texts: reference.texts.map(\.text))) {
            let cosine = Compare.cosine(embedding, text.embedding)
            worst = min(worst, cosine)
            #expect(cosine >= 0.995, "\(name) \(text.text.debugDescription): \(cosine)")
        }
        print("int8 against the reference, \(name): worst cosine \(worst)")
    }
}
