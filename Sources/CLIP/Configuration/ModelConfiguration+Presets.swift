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

extension ModelConfiguration {
    /// MobileCLIP 2 as open_clip configures MobileCLIP2-S0 (`fastvit_mci0`)
    /// and -S2 (`fastvit_mci2`): 256 px, a 512-d embedding, the CLIP text
    /// tower (512 wide, 12 layers, 8 heads, exact GELU) without its causal
    /// mask. The benchmarks build random models of these shapes.
    /// MobileCLIP2-B (`vit_base_mci_224`): 224 px, a 512-d embedding, the
    /// same text tower with its causal mask; -L-14
    /// (`vit_large_patch14_clip_224`): 768-d, a 768-wide bidirectional text tower.
    public static func mobileCLIP2(_ tower: String) -> ModelConfiguration {
        // The large members (S3, S4, L-14): a 768-d embedding, a 768-wide text tower.
        func model(large: Bool, bidirectional: Bool, vision: VisionConfiguration) -> ModelConfiguration {
            var text = TextConfiguration(contextLength: 77, vocabularySize: 49408, transformer: TransformerConfiguration(
                width: large ? 768 : 512, layers: 12, heads: large ? 12 : 8, mlpWidth: large ? 3072 : 2048, activation: .gelu,
                layerNormEpsilon: 1e-5))
            text.bidirectional = bidirectional
            return ModelConfiguration(layout: .openCLIP, embeddingSize: large ? 768 : 512, vision: vision, text: text)
        }
        if let vit = TimmVisionTowers.classToken[tower] {
            let large = vit.width > 768
            return model(large: large, bidirectional: large,
                         vision: VisionConfiguration(imageSize: vit.imageSize, patchSize: vit.patchSize, transformer: vit.transformer,
                                                     architecture: .timm(tower)))
        }
        let shape = FastViTTower.Shape.known[tower]!, last = shape.widths.last!
        return model(large: shape.widths.count > 4, bidirectional: true,
                     vision: VisionConfiguration(imageSize: 256, patchSize: shape.stride, transformer: TransformerConfiguration(
                         width: last, layers: shape.layers.last!, heads: last / 32, mlpWidth: last * shape.mlpRatio, activation: .gelu,
                         layerNormEpsilon: 1e-5), architecture: .fastvit(tower)))
    }
}

extension ModelConfiguration {
    /// SigLIP 2 at a fixed resolution, as transformers' SiglipModel configures
    /// google/siglip2-{base,large,so400m}-patch{16,14}-*: Gemma's 256 000
    /// pieces, 64 positions, GELU (tanh), LayerNorm ε 1e-6. The benchmarks
    /// build random models of these shapes.
    public static func siglip2(_ size: SiglipSize, patch: Int = 16, imageSize: Int) -> ModelConfiguration {
        let (width, layers, heads, mlp) = size.shape
        let transformer = TransformerConfiguration(width: width, layers: layers, heads: heads, mlpWidth: mlp,
                                                   activation: .geluTanh, layerNormEpsilon: 1e-6)
        return ModelConfiguration(
            layout: .transformers, embeddingSize: width,
            vision: VisionConfiguration(imageSize: imageSize, patchSize: patch, transformer: transformer, architecture: .siglip),
            text: TextConfiguration(contextLength: 64, vocabularySize: 256_000, transformer: transformer, architecture: .siglip(padId: 0)))
    }

    public enum SiglipSize: String, Sendable, CaseIterable {
        case base, large, so400m

        /// Width, layers, heads, MLP width (the same in both towers).
        var shape: (Int, Int, Int, Int) {
            switch self {
            case .base: return (768, 12, 12, 3072)
            case .large: return (1024, 24, 16, 4096)
            case .so400m: return (1152, 27, 16, 4304)
            }
        }
    }
}
