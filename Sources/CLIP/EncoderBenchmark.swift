import Dispatch

extension ModelConfiguration {
    /// OpenAI's ViT-B/32: 224 px, patch 32, vision width 768 × 12 layers,
    /// text width 512 × 12 layers, 512-d embeddings, QuickGELU.
    public static let vitB32 = ModelConfiguration(
        layout: .openCLIP, embeddingSize: 512,
        vision: VisionConfiguration(imageSize: 224, patchSize: 32, transformer: TransformerConfiguration(
            width: 768, layers: 12, heads: 12, mlpWidth: 3072, activation: .quickGelu, layerNormEpsilon: 1e-5)),
        text: TextConfiguration(contextLength: 77, vocabularySize: 49408, transformer: TransformerConfiguration(
            width: 512, layers: 12, heads: 8, mlpWidth: 2048, activation: .quickGelu, layerNormEpsilon: 1e-5)))
}

/// Times the encoder on a model with random weights (throughput does not
/// depend on the values).
public struct EncoderBenchmark: Sendable {
    public let model: CLIPModel

    public init(configuration: ModelConfiguration) throws(CLIPError) {
        model = try CLIPModel(randomWeights: configuration)
    }

    /// Images per second through the image tower at `batch`, after one warm-up batch.
    public func imagesPerSecond(batch: Int, seconds: Double) -> Double {
        var generator = SplitMix64(seed: 7)
        let pixels = (0..<(batch * model.preprocessor.valuesPerImage)).map { _ in 4 * generator.nextUnit() - 2 }
        _ = model.encode(pixelValues: pixels, count: batch)
        var images = 0
        let start = DispatchTime.now().uptimeNanoseconds
        var elapsed = 0.0
        repeat {
            _ = model.encode(pixelValues: pixels, count: batch)
            images += batch
            elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        } while elapsed < seconds || images < 2 * batch
        return Double(images) / elapsed
    }

    /// Median milliseconds to tokenize and embed one short query.
    public func textQueryMilliseconds(seconds: Double) -> Double {
        let query = "a dog running on the beach at sunset"
        _ = model.encode(texts: [query])
        var samples: [Double] = []
        let start = DispatchTime.now().uptimeNanoseconds
        repeat {
            let before = DispatchTime.now().uptimeNanoseconds
            _ = model.encode(texts: [query])
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - before) / 1e6)
        } while Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 < seconds || samples.count < 5
        samples.sort()
        return samples[samples.count / 2]
    }
}
