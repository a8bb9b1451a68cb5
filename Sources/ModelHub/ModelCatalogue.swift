import CLIP

/// Published models photosearch can install: CLIP ViT image towers with CLIP
/// text towers, in either checkpoint layout, Chinese-CLIP (BERT text towers),
/// SigLIP 2 (transformers' SiglipModel, a multilingual Gemma tokenizer) and
/// MobileCLIP 2 (open_clip's, FastViT image towers), from the Hugging Face Hub.
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
    /// The model `photosearch models install` suggests first: small and fast
    /// enough for any machine.
    public static let defaultName = "openai-vit-b-32"
    /// The model suggested for the best results (multilingual, calibrated
    /// match probabilities), where indexing at a quarter of ViT-B/32's speed is fine.
    public static let bestResultsName = "siglip2-b-16-256"

    private static let transformersFiles = ["config.json", "preprocessor_config.json", "vocab.json", "merges.txt", "model.safetensors"]
    private static let openCLIPFiles = ["open_clip_config.json", "open_clip_model.safetensors"]
    /// OFA-Sys' Chinese-CLIP repositories (transformers' ChineseCLIPModel):
    /// a WordPiece vocab.txt; weights as pytorch_model.bin where no
    /// model.safetensors is published.
    private static let chineseCLIPFiles = ["config.json", "preprocessor_config.json", "tokenizer_config.json", "vocab.txt", "model.safetensors"]
    private static let pytorchFallback = ["model.safetensors": "pytorch_model.bin"]
    /// google/siglip2-* at a fixed resolution: transformers' SiglipModel
    /// with SigLIP 2's Gemma tokenizer.json (256 000 pieces, F32 weights).
    private static let siglip2Files = ["config.json", "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors"]

    /// google/siglip-*: transformers' SiglipModel with SigLIP's SentencePiece
    /// tokenizer (spiece.model).
    private static let siglipFiles = ["config.json", "preprocessor_config.json", "spiece.model", "tokenizer_config.json", "model.safetensors"]

    /// SigLIP (2023): English, except the multilingual B/16; SigLIP 2 is
    /// better at every size (its paper's table 1).
    private static let siglip: [CatalogueEntry] = [
        ("siglip-b-16-224", "google/siglip-base-patch16-224", "SigLIP B/16, 224 px, 768-d, English", 813_000_000),
        ("siglip-b-16-256", "google/siglip-base-patch16-256", "SigLIP B/16, 256 px, 768-d, English", 813_000_000),
        ("siglip-b-16-384", "google/siglip-base-patch16-384", "SigLIP B/16, 384 px, 768-d, English", 814_000_000),
        ("siglip-b-16-512", "google/siglip-base-patch16-512", "SigLIP B/16, 512 px, 768-d, English", 815_000_000),
        ("siglip-b-16-256-multilingual", "google/siglip-base-patch16-256-multilingual", "SigLIP B/16, 256 px, 768-d, multilingual (250 000-piece vocabulary)", 1_480_000_000),
        ("siglip-l-16-256", "google/siglip-large-patch16-256", "SigLIP L/16, 256 px, 1024-d, English", 2_610_000_000),
        ("siglip-l-16-384", "google/siglip-large-patch16-384", "SigLIP L/16, 384 px, 1024-d, English", 2_610_000_000),
        ("siglip-so400m-14-384", "google/siglip-so400m-patch14-384", "SigLIP So400m/14, 384 px, 1152-d, English", 3_510_000_000),
    ].map { google($0, files: siglipFiles) }

    /// SigLIP 2 fixed-resolution models: (name, repository, summary, bytes).
    /// Zero-shot ImageNet-1k top-1 from the SigLIP 2 paper (Tschannen et al.,
    /// 2025, arXiv:2502.14786, table 1). All answer queries in many languages,
    /// Chinese included.
    private static let siglip2: [CatalogueEntry] = [
        ("siglip2-b-16-224", "google/siglip2-base-patch16-224", "SigLIP 2 B/16, 224 px, 768-d, multilingual (ImageNet 0-shot 78.2%)", 1_500_000_000),
        ("siglip2-b-16-256", "google/siglip2-base-patch16-256", "SigLIP 2 B/16, 256 px, 768-d, multilingual (79.1%)", 1_500_000_000),
        ("siglip2-b-16-384", "google/siglip2-base-patch16-384", "SigLIP 2 B/16, 384 px, 768-d, multilingual (80.6%)", 1_510_000_000),
        ("siglip2-b-16-512", "google/siglip2-base-patch16-512", "SigLIP 2 B/16, 512 px, 768-d, multilingual (81.2%)", 1_510_000_000),
        ("siglip2-l-16-256", "google/siglip2-large-patch16-256", "SigLIP 2 L/16, 256 px, 1024-d, multilingual (82.5%)", 3_530_000_000),
        ("siglip2-l-16-384", "google/siglip2-large-patch16-384", "SigLIP 2 L/16, 384 px, 1024-d, multilingual (83.1%)", 3_530_000_000),
        ("siglip2-l-16-512", "google/siglip2-large-patch16-512", "SigLIP 2 L/16, 512 px, 1024-d, multilingual (83.5%)", 3_530_000_000),
        ("siglip2-so400m-14-224", "google/siglip2-so400m-patch14-224", "SigLIP 2 So400m/14, 224 px, 1152-d, multilingual (83.2%)", 4_550_000_000),
        ("siglip2-so400m-14-384", "google/siglip2-so400m-patch14-384", "SigLIP 2 So400m/14, 384 px, 1152-d, multilingual (84.1%)", 4_550_000_000),
        ("siglip2-so400m-16-256", "google/siglip2-so400m-patch16-256", "SigLIP 2 So400m/16, 256 px, 1152-d, multilingual (83.4%)", 4_550_000_000),
        ("siglip2-so400m-16-384", "google/siglip2-so400m-patch16-384", "SigLIP 2 So400m/16, 384 px, 1152-d, multilingual (84.1%)", 4_550_000_000),
        ("siglip2-so400m-16-512", "google/siglip2-so400m-patch16-512", "SigLIP 2 So400m/16, 512 px, 1152-d, multilingual (84.3%)", 4_550_000_000),
    ].map { google($0, files: siglip2Files) }

    /// Apple's MobileCLIP 2 (2025) in open_clip's hub layout, as timm
    /// publishes it: FastViT MCi image towers built for phones (S0 … S4), a
    /// ViT-B/16 over a convolutional stem (B) and timm's CLIP ViT-L/14
    /// (L-14), CLIP text towers (without the causal mask but for B).
    /// tokenizer_config.json too: open_clip's upload carries one (CLIP's
    /// Hugging Face tokenizer), whose pad_token a configuration naming
    /// hf_tokenizer_name pads with.
    /// Zero-shot ImageNet-1k top-1 from the MobileCLIP 2 paper (Faghri et
    /// al., Apple, TMLR 2025) as Apple's model cards (apple/MobileCLIP2-*) list it.
    private static let mobileCLIP2: [CatalogueEntry] = [
        ("mobileclip2-s0", "timm/MobileCLIP2-S0-OpenCLIP", "MobileCLIP 2 S0, 256 px, 512-d, English (ImageNet 0-shot 71.5%; fastest)", 300_000_000),
        ("mobileclip2-s2", "timm/MobileCLIP2-S2-OpenCLIP", "MobileCLIP 2 S2, 256 px, 512-d, English (77.2%)", 400_000_000),
        ("mobileclip2-b", "timm/MobileCLIP2-B-OpenCLIP", "MobileCLIP 2 B (ViT-B/16), 224 px, 512-d, English (79.4%)", 600_000_000),
        ("mobileclip2-s3", "timm/MobileCLIP2-S3-OpenCLIP", "MobileCLIP 2 S3, 256 px, 768-d, English (80.7%)", 1_000_000_000),
        ("mobileclip2-s4", "timm/MobileCLIP2-S4-OpenCLIP", "MobileCLIP 2 S4, 256 px, 768-d, English (81.9%)", 1_780_000_000),
        ("mobileclip2-l-14", "timm/MobileCLIP2-L-14-OpenCLIP", "MobileCLIP 2 L/14, 224 px, 768-d, English (81.9%)", 1_710_000_000),
    ].map { model in
        CatalogueEntry(name: model.0, summary: model.2, repository: model.1, revision: "main", layout: .openCLIP,
                       files: openCLIPFiles + ["tokenizer_config.json"], downloadBytes: model.3, licence: "apple-amlr")
    }

    /// An entry for one of Google's SigLIP repositories: (name, repository, summary, bytes).
    private static func google(_ model: (String, String, String, Int64), files: [String]) -> CatalogueEntry {
        CatalogueEntry(name: model.0, summary: model.2, repository: model.1, revision: "main", layout: .transformers,
                       files: files, downloadBytes: model.3, licence: "Apache-2.0")
    }

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
    ] + siglip2 + mobileCLIP2 + siglip

    public static func entry(named name: String) -> CatalogueEntry? {
        entries.first { $0.name == name }
    }

    /// The model a mistyped `name` most likely meant, among `installed`
    /// names and the catalogue's (whose Hugging Face repository names count
    /// as theirs too: "siglip2-base-patch16-224" means siglip2-b-16-224).
    public static func suggestion(for name: String, installed: [String] = []) -> String? {
        var aliases: [String: String] = [:]
        for entry in entries {
            aliases[entry.name] = entry.name
            aliases[String(entry.repository.split(separator: "/").last ?? "")] = entry.name
        }
        for name in installed { aliases[name] = name }
        let names = installed + entries.map(\.name) + entries.map { String($0.repository.split(separator: "/").last ?? "") }
        return nearest(to: name, among: names).flatMap { aliases[$0] }
    }

    /// The name in `names` a mistyped `name` most likely meant: one that
    /// differs only in case, else the nearest by edits (insertions,
    /// deletions, substitutions, swaps of neighbours) when few enough for a
    /// typo (2, or a quarter of the name), else the shortest that contains
    /// it (a name of four or more characters: "vit-b-32" for
    /// "openai-vit-b-32"); nil when none is close.
    public static func nearest(to name: String, among names: [String]) -> String? {
        let typed = Array(name.lowercased())
        guard !typed.isEmpty, typed.count <= 200 else { return nil }
        if let same = names.first(where: { $0.lowercased() == name.lowercased() }) { return same }
        let limit = max(2, typed.count / 4)
        var best: (name: String, distance: Int)?
        for candidate in names {
            let distance = editDistance(typed, Array(candidate.lowercased()), limit: limit)
            if distance <= limit, distance < best?.distance ?? .max { best = (candidate, distance) }
        }
        if let best { return best.name }
        guard typed.count >= 4 else { return nil }
        return names.filter { $0.lowercased().contains(name.lowercased()) }.min { $0.count < $1.count || ($0.count == $1.count && $0 < $1) }
    }

    /// Optimal string alignment distance, or limit + 1 once it must exceed `limit`.
    static func editDistance(_ a: [Character], _ b: [Character], limit: Int) -> Int {
        guard abs(a.count - b.count) <= limit else { return limit + 1 }
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            var smallest = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { value = min(value, previous2[j - 2] + 1) }
                current[j] = value
                smallest = min(smallest, value)
            }
            if smallest > limit { return limit + 1 }
            (previous2, previous, current) = (previous, current, previous2)
        }
        return previous[b.count]
    }
}
