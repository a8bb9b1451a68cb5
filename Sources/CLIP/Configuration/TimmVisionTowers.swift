/// The timm image towers that open_clip's SigLIP configurations name
/// (`vision_cfg.timm_model_name`, e.g. timm/ViT-B-16-SigLIP2-256's
/// "vit_base_patch16_siglip_256"). timm's model functions fix each tower's
/// shape (timm/models/vision_transformer.py): none of it is in the
/// configuration, so it is looked up here by name, and a name that is not
/// here is refused by name.
///
/// All are timm's VisionTransformer with SigLIP's arguments: patches with a
/// bias, learned position embeddings and no class token, pre-LayerNorm
/// blocks (ε 1e-6), a final LayerNorm, attention pooling ("map"). The
/// activation is timm's default exact GELU unless the function asks for
/// "gelu_tanh"; SigLIP's "_gap_" variants (average pooling) are not here.
enum TimmVisionTowers {
    struct Tower: Sendable, Equatable {
        var imageSize: Int
        var patchSize: Int
        var width: Int
        var layers: Int
        var heads: Int
        var mlpWidth: Int
        var activation: Activation

        var transformer: TransformerConfiguration {
            TransformerConfiguration(width: width, layers: layers, heads: heads, mlpWidth: mlpWidth,
                                     activation: activation, layerNormEpsilon: 1e-6)
        }
    }

    static let siglip: [String: Tower] = {
        var towers: [String: Tower] = [:]
        // (size, patch, width, layers, heads, MLP width, [(resolution, activation)])
        let families: [(String, Int, Int, Int, Int, Int, [(Int, Activation)])] = [
            ("base", 16, 768, 12, 12, 3072, [(224, .gelu), (256, .gelu), (384, .gelu), (512, .gelu)]),
            ("base", 32, 768, 12, 12, 3072, [(256, .geluTanh)]),
            ("large", 16, 1024, 24, 16, 4096, [(256, .gelu), (384, .gelu), (512, .geluTanh)]),
            // mlp_ratio 3.7362: int(1152 × 3.7362) = 4304.
            ("so400m", 14, 1152, 27, 16, 4304, [(224, .gelu), (378, .gelu), (384, .gelu)]),
            ("so400m", 16, 1152, 27, 16, 4304, [(256, .geluTanh), (384, .geluTanh), (512, .geluTanh)]),
            ("giantopt", 16, 1536, 40, 16, 6144, [(256, .geluTanh), (384, .geluTanh)]),
        ]
        for (size, patch, width, layers, heads, mlp, resolutions) in families {
            for (resolution, activation) in resolutions {
                towers["vit_\(size)_patch\(patch)_siglip_\(resolution)"] = Tower(
                    imageSize: resolution, patchSize: patch, width: width, layers: layers, heads: heads,
                    mlpWidth: mlp, activation: activation)
            }
        }
        // A test-size tower, as timm registers test_vit for its own tests:
        // scripts/make-siglip-fixtures.py registers it with timm under this
        // name to make fixtures/models/oc-siglip2-p8 with open_clip.
        towers["test_vit_siglip"] = Tower(imageSize: 48, patchSize: 8, width: 64, layers: 2, heads: 2, mlpWidth: 192, activation: .gelu)
        return towers
    }()
}
