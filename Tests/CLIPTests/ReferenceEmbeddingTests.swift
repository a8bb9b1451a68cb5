import Foundation
import Imaging
import Testing
@testable import CLIP

/// The embeddings photosearch computes equal those of the reference
/// implementations (open_clip 3.3.0, transformers 5.24.0) on the fixture models.
@Suite("Embeddings match open_clip and transformers")
struct ReferenceEmbeddingTests {
    @Test("image embeddings", arguments: Fixtures.models)
    func imageEmbeddings(model name: String) throws {
        let reference = try Fixtures.reference(name)
        let model = try CLIPModel(directory: Fixtures.path(reference.directory), towers: .image)
        let decoder = ImageDecoder()
        for image in reference.images {
            let photo = try decoder.decode(path: Fixtures.path(image.file))
            let embedding = model.encode(images: [photo.bitmap])[0]
            let size = model.configuration.vision.imageSize
            if photo.bitmap.width == size && photo.bitmap.height == size {
                // Preprocessing is the identity: only float rounding differs
                // (PyTorch and this code sum in different orders).
                #expect(Compare.maxRelativeDifference(embedding, image.embedding) <= 1e-4, "\(image.file)")
            } else {
                // Resizing included; JPEG decoders may differ by a level here and there.
                #expect(Compare.cosine(embedding, image.embedding) >= 0.9999, "\(image.file)")
            }
        }
    }

    @Test("text token ids and embeddings", arguments: Fixtures.models)
    func textEmbeddings(model name: String) throws {
        let reference = try Fixtures.reference(name)
        let model = try CLIPModel(directory: Fixtures.path(reference.directory), towers: .text)
        // A bidirectional CLIP tower (MobileCLIP 2) reads what its tokenizer
        // gives padded with 0 to the context length, as open_clip's
        // tokenizer hands it over.
        let padding: (id: Int, length: Int)? = {
            guard case let .clip(tower)? = model.text, tower.readsPaddedSequences, let id = tower.padId,
                  !(model.tokenizer is GemmaTokenizer) else { return nil }
            return (id, tower.configuration.contextLength)
        }()
        for text in reference.texts {
            var ids = model.tokenizer?.tokenize(text.text) ?? []
            if let padding { ids += [Int](repeating: padding.id, count: padding.length - ids.count) }
            #expect(ids == text.ids, "token ids of \(text.text.debugDescription)")
        }
        let embeddings = model.encode(texts: reference.texts.map(\.text))
        for (text, embedding) in zip(reference.texts, embeddings) {
            #expect(Compare.maxRelativeDifference(embedding, text.embedding) <= 1e-4, "\(text.text.debugDescription)")
        }
    }

    /// A batch's images run in shares, one a core (AnyVisionTower.encode):
    /// an odd count splits them unevenly.
    @Test("a batch gives the same embeddings as one input at a time",
          arguments: ["oc-vit-gelu-p16", "siglip2-p8", "oc-mobileclip2-t", "oc-mobileclip2-b-t"])
    func batchingDoesNotChangeResults(model name: String) throws {
        let reference = try Fixtures.reference(name)
        let model = try CLIPModel(directory: Fixtures.path(reference.directory))
        let texts = reference.texts.map(\.text)
        let together = model.encode(texts: texts)
        for (index, text) in texts.enumerated() {
            #expect(Compare.maxRelativeDifference(model.encode(texts: [text])[0], together[index]) <= 1e-5)
        }
        let decoder = ImageDecoder()
        let bitmaps = try reference.images.prefix(5).map { try decoder.decode(path: Fixtures.path($0.file)).bitmap }
        #expect(bitmaps.count == 5)
        let images = model.encode(images: bitmaps)
        for (index, bitmap) in bitmaps.enumerated() {
            #expect(Compare.maxRelativeDifference(model.encode(images: [bitmap])[0], images[index]) <= 1e-5)
        }
    }

    @Test("the same weights in both layouts give the same embeddings")
    func layoutsAgree() throws {
        let transformers = try CLIPModel(directory: Fixtures.path("models/hf-vit-quickgelu-p8"))
        let openCLIP = try CLIPModel(directory: Fixtures.path("models/oc-vit-quickgelu-p8"))
        #expect(transformers.configuration.layout == .transformers)
        #expect(openCLIP.configuration.layout == .openCLIP)
        let reference = try Fixtures.reference("hf-vit-quickgelu-p8")
        let texts = reference.texts.map(\.text)
        for (a, b) in zip(transformers.encode(texts: texts), openCLIP.encode(texts: texts)) {
            #expect(Compare.maxRelativeDifference(a, b) <= 1e-5)
        }
        // The same pixels into both towers (the layouts' preprocessing
        // differs on odd crop margins and transparency, as their libraries' do).
        let decoder = ImageDecoder()
        let bitmaps = try reference.images.map { try decoder.decode(path: Fixtures.path($0.file)).bitmap }
        for bitmap in bitmaps {
            let pixels = openCLIP.preprocessor.pixelValues(bitmap)
            let a = transformers.encode(pixelValues: pixels, count: 1)[0], b = openCLIP.encode(pixelValues: pixels, count: 1)[0]
            #expect(Compare.maxRelativeDifference(a, b) <= 1e-5)
        }
    }

    @Test("the fixture models see their input")
    func fixtureModelsAreInputSensitive() throws {
        // A model that maps every photo to the same vector would pass the
        // comparisons above without proving anything.
        let model = try CLIPModel(directory: Fixtures.path("models/oc-vit-gelu-p16"), towers: .image)
        let decoder = ImageDecoder()
        let photos = ["photos/astronaut-64.png", "photos/coffee-64.png", "photos/rocket.jpg", "photos/camera.png"]
        let embeddings = model.encode(images: try photos.map { try decoder.decode(path: Fixtures.path($0)).bitmap })
        for i in 0..<embeddings.count {
            for j in (i + 1)..<embeddings.count {
                #expect(Compare.cosine(embeddings[i], embeddings[j]) < 0.9, "\(photos[i]) vs \(photos[j])")
            }
        }
        var bilinear = model.preprocessor.configuration
        bilinear.interpolation = .bilinear
        let chelsea = try decoder.decode(path: Fixtures.path("photos/chelsea.png")).bitmap
        let bicubicEmbedding = model.encode(images: [chelsea])[0]
        let bilinearEmbedding = model.encode(pixelValues: ImagePreprocessor(configuration: bilinear).pixelValues(chelsea), count: 1)[0]
        #expect(Compare.cosine(bicubicEmbedding, bilinearEmbedding) < 0.999)
    }

    @Test("an fp16 checkpoint is read as fp16")
    func halfPrecisionCheckpoint() throws {
        let file = try TensorFile(path: Fixtures.path("models/hf-vit-quickgelu-p8/model.safetensors"))
        #expect(file.tensors.values.allSatisfy { $0.dtype == .f16 })
    }
}
