extension ModelConfiguration {
    /// OpenAI's ViT-B/32 (open_clip's ViT-B-32.json): 224 px, patch 32, vision
    /// width 768 × 12 layers, text width 512 × 12 layers, 512-d embeddings,
    /// QuickGELU. Benchmarks build random models of this shape.
    public static let vitB32 = ModelConfiguration(
        layout: .openCLIP, embeddingSize: 512,
        vision: VisionConfiguration(imageSize: 224, patchSize: 32, transformer: TransformerConfiguration(
            width: 768, layers: 12, heads: 12, mlpWidth: 3072, activation: .quickGelu, layerNormEpsilon: 1e-5)),
        text: TextConfiguration(contextLength: 77, vocabularySize: 49408, transformer: TransformerConfiguration(
            width: 512, layers: 12, heads: 8, mlpWidth: 2048, activation: .quickGelu, layerNormEpsilon: 1e-5)))
}
