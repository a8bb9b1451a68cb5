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
        var layerNormEpsilon: Float = 1e-6

        var transformer: TransformerConfiguration {
            TransformerConfiguration(width: width, layers: layers, heads: heads, mlpWidth: mlpWidth,
                                     activation: activation, layerNormEpsilon: layerNormEpsilon)
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

extension TimmVisionTowers {
    /// timm's VisionTransformer with a class token, pooled at it after the
    /// final LayerNorm and projected by timm's classifier `head` (a Linear
    /// with a bias, open_clip's `timm_pool "token"`, `timm_proj null`), as
    /// open_clip's MobileCLIP2-B and -L-14 configurations name them.
    struct ClassTokenTower: Sendable, Equatable {
        /// How pixels become tokens.
        enum Stem: Sendable, Equatable {
            /// One patch convolution of `patchSize`, without a bias (CLIP's).
            case patch
            /// timm's ConvStem: convolutions whose kernel is their stride
            /// (each cuts its input into patches), `channels[i]` outputs
            /// each; BatchNorm and GELU after all but the last, which has a
            /// bias. The kernels multiply to `patchSize`.
            case convolutional(kernels: [Int], channels: [Int])
        }

        /// Its size and transformer; `patchSize` is the side of the pixels
        /// one token covers, the activation timm's default exact GELU.
        var shape: Tower
        var stem: Stem
        /// timm's `no_embed_class` false: the class token has a position
        /// embedding too (row 0); true (MobileCLIP2-B): positions are added
        /// to the patches only, before the class token is put first.
        var classPosition: Bool
        /// timm's `pre_norm` (`norm_pre`, CLIP's ln_pre).
        var preNorm: Bool

        var imageSize: Int { shape.imageSize }
        var patchSize: Int { shape.patchSize }
        var width: Int { shape.width }
        var transformer: TransformerConfiguration { shape.transformer }
    }

    static let classToken: [String: ClassTokenTower] = [
        // timm/models/vision_transformer_hybrid.py: ConvStem(channels
        // (192, 192, 768), stride = kernel (4, 2, 2), padding 0, GELU),
        // embed 768, depth 12, 12 heads, no_embed_class; LayerNorm ε 1e-6.
        "vit_base_mci_224": ClassTokenTower(
            shape: Tower(imageSize: 224, patchSize: 16, width: 768, layers: 12, heads: 12, mlpWidth: 3072, activation: .gelu),
            stem: .convolutional(kernels: [4, 2, 2], channels: [192, 192, 768]), classPosition: false, preNorm: false),
        // timm/models/vision_transformer.py: patch 14, embed 1024, depth 24,
        // 16 heads, pre_norm, LayerNorm ε 1e-5 (and so no patch bias).
        "vit_large_patch14_clip_224": ClassTokenTower(
            shape: Tower(imageSize: 224, patchSize: 14, width: 1024, layers: 24, heads: 16, mlpWidth: 4096, activation: .gelu,
                         layerNormEpsilon: 1e-5),
            stem: .patch, classPosition: true, preNorm: true),
        // Test sizes of both, as scripts/make-mobileclip-fixtures.py
        // registers them with timm to make fixtures/models/oc-mobileclip2-b-t
        // and -l-t with open_clip.
        "test_vit_mci": ClassTokenTower(
            shape: Tower(imageSize: 64, patchSize: 16, width: 64, layers: 2, heads: 2, mlpWidth: 256, activation: .gelu),
            stem: .convolutional(kernels: [4, 2, 2], channels: [16, 16, 64]), classPosition: false, preNorm: false),
        "test_vit_clip": ClassTokenTower(
            shape: Tower(imageSize: 48, patchSize: 8, width: 64, layers: 2, heads: 2, mlpWidth: 256, activation: .gelu,
                         layerNormEpsilon: 1e-5),
            stem: .patch, classPosition: true, preNorm: true),
    ]
}
