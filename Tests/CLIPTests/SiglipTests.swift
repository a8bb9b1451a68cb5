import Compute
import Foundation
import Imaging
import Testing
import TestSupport
@testable import CLIP

/// SigLIP 2 (transformers' SiglipModel with a Gemma tokenizer.json) against
/// transformers 5.24 and tokenizers 0.23 themselves (scripts/make-siglip-fixtures.py).
/// Embeddings and token ids of the whole model are compared with the other
/// fixture models in ReferenceEmbeddingTests; here, the tokenizer stage by
/// stage, the match probabilities, and what must be refused.
@Suite("SigLIP 2")
struct SiglipTests {
    struct TokenizerReference: Decodable {
        struct Stage: Decodable {
            let normalized: String
            let ids: [Int]
        }

        struct Text: Decodable {
            let text: String
            let siglip2: Stage
            let gemma: Stage
        }

        let texts: [Text]
    }

    struct ProbabilityReference: Decodable {
        struct Image: Decodable { let file: String; let embedding: [Float] }
        struct Text: Decodable { let text: String; let embedding: [Float] }
        let logit_scale: Float
        let logit_bias: Float
        let images: [Image]
        let texts: [Text]
        let probabilities: [[Float]]
    }

    static let model = Fixtures.path("models/siglip2-p8")

    static func tokenizerReference() throws -> TokenizerReference {
        try JSONDecoder().decode(TokenizerReference.self,
                                 from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("reference/siglip2-p8-tokenizer.json"))))
    }

    @Test("tokenizer.json as the tokenizers library runs it: byte fallback, added tokens, the <eos> frame; lower-cased as Siglip2Tokenizer does")
    func tokenizerStages() throws {
        let directory = try ModelDirectory(path: Self.model)
        let reference = try Self.tokenizerReference()
        #expect(reference.texts.count >= 40)
        for lowercase in [true, false] {
            let tokenizer = try directory.gemmaTokenizer(contextLength: 64, padId: nil, lowercase: lowercase)
            for text in reference.texts {
                let expected = lowercase ? text.siglip2 : text.gemma
                // Untruncated: the whole text, then the frame.
                let ids = tokenizer.encode(text.text) + tokenizer.definition.after
                #expect(ids == expected.ids, "\(lowercase ? "siglip2" : "gemma") ids of \(text.text.debugDescription)")
                if lowercase, !tokenizer.definition.added.contains(where: { text.text.contains($0.content) }) {
                    #expect(String(String.UnicodeScalarView(tokenizer.normalize(Array(text.text.unicodeScalars)))) == expected.normalized,
                            "normalised \(text.text.debugDescription)")
                }
            }
        }
    }

    @Test("some fixture texts fall back to bytes, and a long text is cut to 64 with <eos> kept")
    func fixtureCoversByteFallbackAndTruncation() throws {
        let tokenizer = try ModelDirectory(path: Self.model).gemmaTokenizer(contextLength: 64, padId: 0)
        let byteIDs = Set(tokenizer.byteIDs!.map(Int.init))
        let reference = try Self.tokenizerReference()
        #expect(reference.texts.contains { $0.siglip2.ids.contains(where: byteIDs.contains) })
        let long = tokenizer.tokenize(String(repeating: "a dog on the beach ", count: 40))
        #expect(long.count == 64 && long.last == 1 && !long.contains(0))
        let short = tokenizer.tokenize("a dog")
        #expect(short.count == 64 && short.suffix(60).allSatisfy { $0 == 0 } && short.contains(1))
        #expect(tokenizer.tokenize("").prefix(2) == [1, 0])
    }

    @Test("match probabilities are transformers' sigmoid(logits_per_image) and open_clip's sigmoid(logits)",
          arguments: ["siglip2-p8", "oc-siglip2-p8"])
    func probabilities(fixture: String) throws {
        let reference = try JSONDecoder().decode(ProbabilityReference.self,
                                                 from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("reference/\(fixture).json"))))
        let model = try CLIPModel(directory: Fixtures.path("models/" + fixture))
        let calibration = try #require(model.calibration)
        #expect(abs(calibration.scale - Float(exp(Double(reference.logit_scale)))) <= 1e-3)
        #expect(calibration.bias == reference.logit_bias)
        let decoder = ImageDecoder()
        let images = try model.encode(images: reference.images.map { try decoder.decode(path: Fixtures.path($0.file)).bitmap })
        let texts = model.encode(texts: reference.texts.map(\.text))
        var worst: Float = 0
        for (row, image) in images.enumerated() {
            for (column, text) in texts.enumerated() {
                let cosine = Float(Compare.cosine(image, text))
                worst = max(worst, abs(calibration.probability(cosine: cosine) - reference.probabilities[row][column]))
            }
        }
        #expect(worst <= 1e-4, "worst probability difference \(worst)")
        // The fixture must have probabilities away from 0 and 1 for this to test anything.
        #expect(reference.probabilities.joined().contains { $0 > 0.01 && $0 < 0.99 })
        // Only a text tower carries it: an image-only model has no calibration.
        #expect(try CLIPModel(directory: Fixtures.path("models/" + fixture), towers: .image).calibration == nil)
    }

    struct CleanedText: Decodable {
        struct Text: Decodable { let text: String; let model_text: String }
        let texts: [Text]
    }

    @Test("open_clip's canonicalize cleaning, as its HFTokenizer applies it before the tokenizer")
    func canonicalize() throws {
        let reference = try JSONDecoder().decode(CleanedText.self,
                                                 from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("reference/oc-siglip2-p8.json"))))
        for text in reference.texts {
            #expect(TextCleaner.canonicalize(text.text) == text.model_text, "\(text.text.debugDescription)")
        }
        // The fixture's texts exercise each step: punctuation, case, width, whitespace.
        #expect(reference.texts.contains { $0.text.contains(",") && $0.text.lowercased() != $0.text })
        #expect(TextCleaner.canonicalize("  Snake_case, \"quoted\" &amp; <b>bold</b>!  ") == "snake case quoted bboldb")  // open_clip 3.3.0 gives the same
        #expect(TextCleaner.canonicalize("ΣΊΣΥΦΟΣ ＡＢＣ") == "σίσυφος abc")         // and this
    }

    @Test("open_clip SigLIP configurations it does not implement are refused by name", arguments: [
        (#""timm_model_name": "test_vit_siglip""#, #""timm_model_name": "vit_base_patch16_siglip_gap_224""#,
         "vision_cfg.timm_model_name \"vit_base_patch16_siglip_gap_224\" (supported timm image towers: MobileCLIP 2's fastvit_mci0, fastvit_mci1, fastvit_mci2, fastvit_mci3, fastvit_mci4, vit_base_mci_224, vit_large_patch14_clip_224; SigLIP's vit_base_patch16_siglip_224"),
        (#""timm_pool": "map""#, #""timm_pool": "avg""#, "vision_cfg.timm_pool \"avg\""),
        (#""timm_proj": "none""#, #""timm_proj": "linear""#, "vision_cfg.timm_proj \"linear\""),
        (#""image_size": 48"#, #""image_size": 64"#, "vision_cfg.image_size 64x64 differs from test_vit_siglip's 48"),
        (#""embed_dim": 64"#, #""embed_dim": 32"#, "embed_dim 32 differs from the width of test_vit_siglip (64)"),
        (#""clean": "canonicalize""#, #""clean": "lower""#, "text_cfg.tokenizer_kwargs.clean \"lower\""),
        (#""pool_type": "last""#, #""pool_type": "argmax""#, "text_cfg.pool_type \"argmax\" with a SigLIP image tower"),
        (#""no_causal_mask": true"#, #""no_causal_mask": false"#, "a SigLIP text tower with a causal mask"),
        (#""proj_bias": true"#, #""proj_bias": false"#, "a SigLIP text head without a bias"),
    ])
    func openCLIPRefusals(original: String, replacement: String, message: String) throws {
        try Self.expectRefusal(of: Fixtures.path("models/oc-siglip2-p8"), configuration: "open_clip_config.json",
                               files: ["open_clip_model.safetensors", "tokenizer.json", "tokenizer_config.json"],
                               replacing: original, with: replacement, message: message)
    }

    /// A copy of the model folder `source` (`files`, and `configuration`
    /// with `original` replaced) must be refused with `message`.
    static func expectRefusal(of source: String, configuration name: String, files: [String], replacing original: String,
                              with replacement: String, message: String) throws {
        let folder = try TemporaryDirectory()
        for file in files {
            try FileManager.default.copyItem(atPath: source + "/" + file, toPath: folder.path + "/" + file)
        }
        let configuration = try String(contentsOfFile: source + "/" + name, encoding: .utf8)
        #expect(configuration.contains(original))
        try configuration.replacingOccurrences(of: original, with: replacement)
            .write(toFile: folder.path + "/" + name, atomically: true, encoding: .utf8)
        do {
            _ = try CLIPModel(directory: folder.path)
            Issue.record("a configuration with \(replacement) was accepted")
        } catch {
            #expect(error.localizedDescription.contains(message), "\(error.localizedDescription)")
        }
    }

    @Test("an open_clip SigLIP folder without tokenizer.json is refused by the missing file's name")
    func openCLIPWithoutTokenizer() throws {
        let source = Fixtures.path("models/oc-siglip2-p8")
        let folder = try TemporaryDirectory()
        for name in ["open_clip_model.safetensors", "open_clip_config.json"] {
            try FileManager.default.copyItem(atPath: source + "/" + name, toPath: folder.path + "/" + name)
        }
        #expect(throws: CLIPError.missingFile(path: folder.path + "/tokenizer.json")) { try CLIPModel(directory: folder.path) }
    }

    @Test("a float16 or bfloat16 token table is read in place, each looked-up row converted exactly")
    func halfPrecisionTokenTable() throws {
        let values: [Float] = [1, -2.5, 0.333251953125, 65504, -0, 1e-3, 3.140625, -7]
        let owner = Owner()
        for brain in [false, true] {
            // One byte of offset: the mapped table may be unaligned.
            var bytes: [UInt8] = [0]
            for value in values {
                let bits = brain ? UInt16(value.bitPattern >> 16) : Float16(value).bitPattern
                bytes += [UInt8(bits & 0xFF), UInt8(bits >> 8)]
            }
            let rows = try bytes.withUnsafeBytes { raw in
                let table = EmbeddingTable(mappedHalves: raw.baseAddress! + 1, brain: brain, owner: owner, rows: 2, width: 4)
                return (0..<2).map { row in table.withRow(row) { Array(UnsafeBufferPointer(start: $0, count: 4)) } }
            }
            let expected = values.map { brain ? Float(bitPattern: $0.bitPattern & 0xFFFF_0000) : Float(Float16($0)) }
            #expect(rows[0] + rows[1] == expected, "\(brain ? "bf16" : "f16")")
        }
    }

    @Test("the prepared tokenizer tokenizes as the one read from tokenizer.json")
    func preparedTokenizer() throws {
        let tokenizer = try ModelDirectory(path: Self.model).gemmaTokenizer(contextLength: 64, padId: 0)
        let words = tokenizer.preparedWords
        let owner = Owner()
        let copy = try #require(words.withUnsafeBytes { GemmaTokenizer(prepared: $0, owner: owner, contextLength: 64, padId: 0) })
        for text in try Self.tokenizerReference().texts {
            #expect(copy.tokenize(text.text) == tokenizer.tokenize(text.text))
        }
        // A damaged table is refused, not trusted.
        var damaged = words
        damaged[damaged.count - 1] = UInt64.max - 1
        damaged[damaged.count - 2] = 12345
        #expect(damaged.withUnsafeBytes { GemmaTokenizer(prepared: $0, owner: owner, contextLength: 64, padId: 0) } == nil)
        #expect(words.withUnsafeBytes { GemmaTokenizer(prepared: UnsafeRawBufferPointer(rebasing: $0.dropLast(8)), owner: owner,
                                                       contextLength: 64, padId: 0) } == nil)
    }

    @Test("configurations it does not implement are refused by name", arguments: [
        (#""model_type": "siglip""#, #""model_type": "siglip2""#, "Siglip2Model"),
        (#""vision_use_head": true"#, #""vision_use_head": false"#, "vision_use_head false"),
        (#""projection_size": 48"#, #""projection_size": 40"#, "projection_size 40"),
    ])
    func refusals(original: String, replacement: String, message: String) throws {
        try Self.expectRefusal(of: Self.model, configuration: "config.json",
                               files: ["model.safetensors", "tokenizer.json", "tokenizer_config.json", "preprocessor_config.json"],
                               replacing: original, with: replacement, message: message)
    }

    @Test("image sizes, means and deviations a model cannot have are refused by name, never a crash", arguments: [
        (#""height": 48"#, #""height": 1e300"#, "size differs from the model's image_size 48"),
        (#""height": 48"#, #""height": -9223372036854775809"#, "size differs from the model's image_size 48"),
        (#""height": 48"#, #""height": 48.5"#, "size differs from the model's image_size 48"),
        ("\"image_std\": [\n    0.5", "\"image_std\": [\n    -1e-30", "image_std must be from 0.001 to 1000"),
        ("\"image_mean\": [\n    0.5", "\"image_mean\": [\n    1e30", "image_mean must be within ±10"),
    ])
    func preprocessorRefusals(original: String, replacement: String, message: String) throws {
        try Self.expectRefusal(of: Self.model, configuration: "preprocessor_config.json",
                               files: ["model.safetensors", "tokenizer.json", "tokenizer_config.json", "config.json"],
                               replacing: original, with: replacement, message: message)
    }

    struct SentencePieceReference: Decodable {
        struct Text: Decodable {
            let text: String
            let model_text: String
            let spiece_ids: [Int]
            let ids: [Int]
        }

        let texts: [Text]
    }

    @Test("SigLIP's spiece.model as sentencepiece and transformers' SiglipTokenizer run it: cleaning, nmt_nfkc, Viterbi, special tokens")
    func sentencePiece() throws {
        let tokenizer = try ModelDirectory(path: Fixtures.path("models/siglip-p8")).siglipTokenizer(contextLength: 64)
        let reference = try JSONDecoder().decode(SentencePieceReference.self,
                                                 from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("reference/siglip-p8-tokenizer.json"))))
        #expect(reference.texts.count >= 40)
        for text in reference.texts {
            // The tokenizer's ids, then </s> unless already last.
            var ids = tokenizer.encode(text.text)
            if ids.last != tokenizer.endId { ids.append(tokenizer.endId) }
            #expect(ids == text.ids, "ids of \(text.text.debugDescription)")
            if !tokenizer.specials.contains(where: { text.text.contains($0.text) }) {
                #expect(tokenizer.canonical(text.text) == text.model_text, "cleaned \(text.text.debugDescription)")
                #expect(tokenizer.model.encode(text.model_text) == text.spiece_ids, "sentencepiece ids of \(text.model_text.debugDescription)")
            }
        }
        // The fixture exercises the character map and unknown characters.
        #expect(reference.texts.contains { $0.ids.contains(tokenizer.model.unknownId) })
        #expect(tokenizer.model.charsMap != nil)
    }

    struct ByteFallbackReference: Decodable {
        struct Text: Decodable { let text: String; let ids: [Int] }
        let texts: [Text]
    }

    @Test("a unigram model with byte fallback: unknown characters become their bytes' pieces, as sentencepiece encodes")
    func sentencePieceByteFallback() throws {
        let folder = Fixtures.path("reference/spiece-byte-fallback")
        let model = try SentencePieceModel(bytes: [UInt8](Data(contentsOf: URL(fileURLWithPath: folder + "/spiece.model"))), path: folder)
        let reference = try JSONDecoder().decode(ByteFallbackReference.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/ids.json")))
        let bytePieces = Set(try #require(model.bytePieces))
        #expect(reference.texts.contains { $0.ids.contains(where: bytePieces.contains) })
        for text in reference.texts {
            #expect(model.encode(text.text) == text.ids, "ids of \(text.text.debugDescription)")
        }
    }

    @Test("a damaged or hostile spiece.model is refused with the file's name, never a crash", arguments: [
        "empty", "truncated", "not protobuf", "huge length", "bad wire type", "no unknown piece", "bpe model", "huge piece",
        "huge piece type",
    ])
    func hostileSentencePiece(kind: String) throws {
        let good = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path("models/siglip-p8/spiece.model"))))
        var bytes: [UInt8]
        switch kind {
        case "empty": bytes = []
        case "truncated": bytes = Array(good.prefix(good.count / 2))
        case "not protobuf": bytes = Array("<html>not a model</html>".utf8)
        case "huge length": bytes = [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]
        case "bad wire type": bytes = [0x0F, 0x00]
        case "no unknown piece": bytes = [0x0A, 0x07, 0x0A, 0x01, 0x61, 0x15, 0, 0, 0x80, 0xBF]
        case "huge piece type":
            // A piece "zz" whose type is 2⁶⁴ - 1 (no Int holds it).
            let piece: [UInt8] = [0x0A, 0x02, 0x7A, 0x7A, 0x15, 0, 0, 0x80, 0xBF, 0x18] + [UInt8](repeating: 0xFF, count: 9) + [0x01]
            bytes = good + [0x0A, UInt8(piece.count)] + piece
        case "huge piece":
            // A normal piece of 1 000 bytes after the fixture's pieces.
            let piece: [UInt8] = [0x0A, 0xE8, 0x07] + [UInt8](repeating: 0x61, count: 1000)
            bytes = good + [0x0A, 0xEB, 0x07] + piece
        default:
            // trainer_spec { model_type: BPE } after the pieces.
            bytes = good + [0x12, 0x02, 0x18, 0x02]
        }
        do {
            _ = try SentencePieceModel(bytes: bytes, path: "/models/x/spiece.model")
            Issue.record("\(kind) was accepted")
        } catch {
            #expect(error.localizedDescription.contains("/models/x/spiece.model"), "\(error.localizedDescription)")
            if kind == "huge piece" { #expect(error.localizedDescription.contains("1000 bytes long"), "\(error.localizedDescription)") }
            if kind == "bpe model" { #expect(error.localizedDescription.contains("only unigram"), "\(error.localizedDescription)") }
        }
    }

    @Test("the character map's trie is bounds-checked: offsets past its end find nothing")
    func charsMapBounds() throws {
        // A trie of one unit whose offset points far outside it.
        let map = try #require(CharsMap([4, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0x7F, 0x61, 0x00]))
        #expect(map.longestPrefix(Array("abc".utf8)[...]) == nil)
        #expect(CharsMap([8, 0, 0, 0, 1, 2]) == nil)
    }
}

/// Keeps borrowed words alive in the tests above (they outlive it anyway).
private final class Owner: Sendable {}
