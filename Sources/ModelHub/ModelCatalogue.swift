import CLIP

/// Published CLIP models photosearch can install: ViT image towers with CLIP
/// text towers, in either checkpoint layout, and Chinese-CLIP (BERT text
/// towers), from the Hugging Face Hub.
public struct CatalogueEntry: Sendable, Equatable {
    public var name: String
    public var summary: String
    /// Hub repository ("owner/name").
    public var repository: String
    /// Branch, tag or commit to download; the commit actually served is
    /// recorded in the installed model's manifest.
    public var revision: String
    public var layout: CheckpointLayout
    public var files: [String]
    /// A file to download instead when the hub has no such file (404):
    /// "model.safetensors" → "pytorch_model.bin" for repositories that
    /// only ship PyTorch's format.
    public var fallbacks: [String: String] = [:]
    /// Approximate download size in bytes.
    public var downloadBytes: Int64
    public var licence: String
}

public enum ModelCatalogue {
    /// The model `photosearch models install` suggests first.
    public static let defaultName = "openai-vit-b-32"

    private static let transformersFiles = ["config.json", "preprocessor_config.json", "vocab.json", "merges.txt", "model.safetensors"]
    private static let openCLIPFiles = ["open_clip_config.json", "open_clip_model.safetensors"]
    /// OFA-Sys' Chinese-CLIP repositories (transformers' ChineseCLIPModel):
    /// a WordPiece vocab.txt; weights as pytorch_model.bin where no
    /// model.safetensors is published.
    private static let chineseCLIPFiles = ["config.json", "preprocessor_config.json", "tokenizer_config.json", "vocab.txt", "model.safetensors"]
    private static let pytorchFallback = ["model.safetensors": "pytorch_model.bin"]

    public static let entries: [CatalogueEntry] = [
        CatalogueEntry(name: "openai-vit-b-32", summary: "OpenAI CLIP ViT-B/32, 224 px, 512-d (the original; fast)",
                       repository: "openai/clip-vit-base-patch32", revision: "main", layout: .transformers,
                       files: transformersFiles, downloadBytes: 607_000_000, licence: "MIT"),
        CatalogueEntry(name: "laion-vit-b-32", summary: "OpenCLIP ViT-B/32 trained on LAION-2B, 224 px, 512-d",
                       repository: "laion/CLIP-ViT-B-32-laion2B-s34B-b79K", revision: "main", layout: .openCLIP,
                       files: openCLIPFiles, downloadBytes: 606_000_000, licence: "MIT"),
        CatalogueEntry(name: "datacomp-vit-b-32-256", summary: "OpenCLIP ViT-B/32 trained on DataComp-1B, 256 px, 512-d",
                       repository: "laion/CLIP-ViT-B-32-256x256-DataComp-s34B-b86K", revision: "main", layout: .openCLIP,
                       files: openCLIPFiles, downloadBytes: 606_000_000, licence: "MIT"),
        CatalogueEntry(name: "openai-vit-b-16", summary: "OpenAI CLIP ViT-B/16, 224 px, 512-d (more accurate, ~4x slower to index)",
                       repository: "openai/clip-vit-base-patch16", revision: "main", layout: .transformers,
                       files: transformersFiles, downloadBytes: 600_000_000, licence: "MIT"),
        CatalogueEntry(name: "openai-vit-l-14", summary: "OpenAI CLIP ViT-L/14, 224 px, 768-d (most accurate, ~14x slower to index)",
                       repository: "openai/clip-vit-large-patch14", revision: "main", layout: .transformers,
                       files: transformersFiles, downloadBytes: 1_710_000_000, licence: "MIT"),
        CatalogueEntry(name: "laion-vit-l-14", summary: "OpenCLIP ViT-L/14 trained on LAION-2B, 224 px, 768-d",
                       repository: "laion/CLIP-ViT-L-14-laion2B-s32B-b82K", revision: "main", layout: .openCLIP,
                       files: openCLIPFiles, downloadBytes: 1_710_000_000, licence: "MIT"),
        CatalogueEntry(name: "chinese-clip-vit-b-16", summary: "Chinese-CLIP ViT-B/16, 224 px, 512-d (suggested for Chinese queries)",
                       repository: "OFA-Sys/chinese-clip-vit-base-patch16", revision: "main", layout: .transformers,
                       files: chineseCLIPFiles, fallbacks: pytorchFallback, downloadBytes: 753_000_000, licence: "MIT"),
        CatalogueEntry(name: "chinese-clip-vit-l-14", summary: "Chinese-CLIP ViT-L/14, 224 px, 768-d",
                       repository: "OFA-Sys/chinese-clip-vit-large-patch14", revision: "main", layout: .transformers,
                       files: chineseCLIPFiles, fallbacks: pytorchFallback, downloadBytes: 1_630_000_000, licence: "MIT"),
        CatalogueEntry(name: "chinese-clip-vit-l-14-336", summary: "Chinese-CLIP ViT-L/14, 336 px, 768-d",
                       repository: "OFA-Sys/chinese-clip-vit-large-patch14-336px", revision: "main", layout: .transformers,
                       files: chineseCLIPFiles, fallbacks: pytorchFallback, downloadBytes: 1_630_000_000, licence: "MIT"),
        CatalogueEntry(name: "chinese-clip-vit-h-14", summary: "Chinese-CLIP ViT-H/14, 224 px, 1024-d (RoBERTa-wwm-large text tower)",
                       repository: "OFA-Sys/chinese-clip-vit-huge-patch14", revision: "main", layout: .transformers,
                       files: chineseCLIPFiles, fallbacks: pytorchFallback, downloadBytes: 3_890_000_000, licence: "MIT"),
    ]

    public static func entry(named name: String) -> CatalogueEntry? {
        entries.first { $0.name == name }
    }
}
