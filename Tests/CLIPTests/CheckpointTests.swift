import Foundation
import Testing
import TestSupport
@testable import CLIP

/// Model directories that are wrong in every way a user's download can be.
@Suite("Loading model directories")
struct CheckpointTests {
    /// A copy of a fixture model directory whose files the test may change.
    func copy(_ model: String) throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory()
        let source = Fixtures.path("models/\(model)")
        for name in try FileManager.default.contentsOfDirectory(atPath: source) {
            try FileManager.default.copyItem(atPath: (source as NSString).appendingPathComponent(name), toPath: directory.file(name))
        }
        return directory
    }

    func loadError(_ path: String, towers: CLIPModel.Towers = .both) -> CLIPError? {
        do {
            _ = try CLIPModel(directory: path, towers: towers)
            return nil
        } catch {
            return error
        }
    }

    @Test("a directory that does not exist")
    func missingDirectory() {
        #expect(loadError("/nonexistent/model")?.localizedDescription == "model directory /nonexistent/model does not exist")
    }

    @Test("a directory without a configuration")
    func notAModel() throws {
        let directory = try TemporaryDirectory()
        #expect(loadError(directory.path) == .notAModelDirectory(path: directory.path))
    }

    @Test("a configuration without weights names the missing file")
    func missingWeights() throws {
        let directory = try copy("oc-vit-gelu-p16")
        try FileManager.default.removeItem(atPath: directory.file("open_clip_model.safetensors"))
        #expect(loadError(directory.path) == .missingFile(path: directory.file("open_clip_model.safetensors")))
    }

    @Test("a pytorch_model.bin that is not PyTorch's zip archive is refused with a reason")
    func pickleWeights() throws {
        let directory = try copy("hf-vit-quickgelu-p8")
        try FileManager.default.moveItem(atPath: directory.file("model.safetensors"), toPath: directory.file("pytorch_model.bin"))
        let message = loadError(directory.path)?.localizedDescription ?? ""
        #expect(message == "\(directory.file("pytorch_model.bin")): not a PyTorch checkpoint photosearch can read: it is not a zip archive (PyTorch before 1.6 wrote another format: load and save it again with a newer PyTorch, or convert it to safetensors)")
    }

    @Test("a Chinese-CLIP folder without vocab.txt, or with one lacking [UNK], is refused")
    func chineseVocabulary() throws {
        let directory = try copy("cn-clip-vit-p8")
        try FileManager.default.removeItem(atPath: directory.file("vocab.txt"))
        #expect(loadError(directory.path) == .missingFile(path: directory.file("vocab.txt")))
        try Data("[PAD]\n[CLS]\n[SEP]\n".utf8).write(to: URL(fileURLWithPath: directory.file("vocab.txt")))
        #expect(loadError(directory.path) == .invalidVocabulary(path: directory.file("vocab.txt"), reason: "it has no [UNK] token"))
        // Only the text tower needs it.
        #expect(loadError(directory.path, towers: .image) == nil)
    }

    @Test("a vocab.txt with Windows line ends (\\r\\n) reads as the same vocabulary")
    func windowsLineEnds() throws {
        let path = Fixtures.path("models/cn-clip-vit-p8/vocab.txt")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let options = BertTokenizer.Options()
        let unix = try BertTokenizer(vocabulary: text, options: options, contextLength: 52)
        let windows = try BertTokenizer(vocabulary: text.replacingOccurrences(of: "\n", with: "\r\n"), options: options, contextLength: 52)
        #expect(windows.vocabularySize == unix.vocabularySize && unix.vocabularySize > 20_000)
        for query in ["海边的日落", "a dog on the beach", "生日蛋糕 with candles"] { #expect(windows.encode(query) == unix.encode(query)) }
    }

    @Test("safetensors are preferred to a .bin in the same folder")
    func safetensorsFirst() throws {
        let directory = try copy("cn-clip-vit-p8")
        try FileManager.default.copyItem(atPath: Fixtures.path("models/hostile/os-system.bin"), toPath: directory.file("pytorch_model.bin"))
        #expect(try ModelDirectory(path: directory.path).weightsPath == directory.file("model.safetensors"))
        #expect(loadError(directory.path) == nil)
    }

    @Test("a folder where the weights file should be")
    func weightsFolder() throws {
        let directory = try copy("oc-vit-gelu-p16")
        try FileManager.default.removeItem(atPath: directory.file("open_clip_model.safetensors"))
        try FileManager.default.createDirectory(atPath: directory.file("open_clip_model.safetensors"), withIntermediateDirectories: false)
        #expect(loadError(directory.path) == .cannotRead(path: directory.file("open_clip_model.safetensors"), reason: "it is a folder, not a regular file"))
    }

    @Test("an empty or cut merges.txt is refused, not tokenized differently", arguments: [0, 1000])
    func cutMerges(lines: Int) throws {
        let directory = try copy("hf-vit-quickgelu-p8")
        let merges = try String(contentsOfFile: directory.file("merges.txt"), encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        try (merges.prefix(lines + 1).joined(separator: "\n") + "\n").write(toFile: directory.file("merges.txt"), atomically: true, encoding: .utf8)
        #expect(loadError(directory.path, towers: .text) == .invalidVocabulary(
            path: directory.file("merges.txt"),
            reason: "\(lines) merge rules where CLIP's tokenizer has 48894; is the file cut short or not a merges file?"))
        #expect(loadError(directory.path, towers: .image) == nil)    // the image tower has no tokenizer
    }

    @Test("a merges.txt of repeated rules is refused: the count alone let 48 894 copies of one rule through")
    func repeatedMerges() throws {
        let directory = try copy("hf-vit-quickgelu-p8")
        let merges = try String(contentsOfFile: directory.file("merges.txt"), encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        try ([merges[0]] + Array(repeating: merges[1], count: 48894)).joined(separator: "\n").write(toFile: directory.file("merges.txt"), atomically: true, encoding: .utf8)
        #expect(loadError(directory.path, towers: .text) == .invalidVocabulary(
            path: directory.file("merges.txt"), reason: "merge 2 (\(merges[1])) repeats an earlier one"))
    }

    @Test("a vocab.txt of more lines than the text tower has tokens is refused before it is split (60 MB of empty lines took 2.3 GB)")
    func oversizedVocabulary() throws {
        let directory = try copy("cn-clip-vit-p8")
        try Data(repeating: 0x0A, count: 1 << 20).write(to: URL(fileURLWithPath: directory.file("vocab.txt")))
        let error = try #require(loadError(directory.path, towers: .text))
        guard case let .invalidVocabulary(path, reason) = error else { Issue.record("\(error)"); return }
        #expect(path == directory.file("vocab.txt") && reason.hasPrefix("it has 1048576 lines, more than the text tower's "), "\(reason)")
    }

    @Test("a truncated weights file")
    func truncatedWeights() throws {
        let directory = try copy("oc-vit-gelu-p16")
        let path = directory.file("open_clip_model.safetensors")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
        let message = loadError(directory.path)?.localizedDescription ?? ""
        #expect(message.contains("open_clip_model.safetensors"))
        #expect(message.contains("past the") && message.contains("data section"))
    }

    @Test("missing tensors are all listed")
    func missingTensors() throws {
        let directory = try copy("oc-vit-gelu-p16")
        var writer = try SafetensorsWriter.copying(directory.file("open_clip_model.safetensors"))
        let removed = ["visual.ln_post.weight", "transformer.resblocks.1.mlp.c_fc.bias"]
        writer.tensors.removeAll { removed.contains($0.name) }
        try writer.write(to: directory.file("open_clip_model.safetensors"))
        guard case let .missingTensors(path, names)? = loadError(directory.path) else {
            Issue.record("expected missing tensors")
            return
        }
        #expect(path == directory.file("open_clip_model.safetensors"))
        #expect(Set(names) == Set(removed))
    }

    @Test("a tensor whose shape does not fit the configuration")
    func shapeMismatch() throws {
        let directory = try copy("oc-vit-gelu-p16")
        var writer = try SafetensorsWriter.copying(directory.file("open_clip_model.safetensors"))
        let index = writer.tensors.firstIndex { $0.name == "visual.positional_embedding" }!
        writer.tensors[index] = .init(name: "visual.positional_embedding", shape: [16, 64], values: Array(repeating: 0, count: 16 * 64))
        try writer.write(to: directory.file("open_clip_model.safetensors"))
        #expect(loadError(directory.path)?.localizedDescription
            == "\(directory.file("open_clip_model.safetensors")): tensor visual.positional_embedding has shape [16, 64], expected [17, 64] from the model configuration")
    }

    @Test("tensors the architecture does not use are refused")
    func unexpectedTensors() throws {
        let directory = try copy("oc-vit-gelu-p16")
        var writer = try SafetensorsWriter.copying(directory.file("open_clip_model.safetensors"))
        writer.tensors.append(.init(name: "visual.attn_pool.query", shape: [2], values: [0, 0]))
        try writer.write(to: directory.file("open_clip_model.safetensors"))
        #expect(loadError(directory.path) == .unexpectedTensors(path: directory.file("open_clip_model.safetensors"),
                                                                names: ["visual.attn_pool.query"]))
        // Loading only the text tower does not look at the image tower's tensors.
        #expect(loadError(directory.path, towers: .text) == nil)
    }

    func rewriteConfig(_ directory: TemporaryDirectory, _ name: String, _ change: (inout [String: Any]) -> Void) throws {
        let url = URL(fileURLWithPath: directory.file(name))
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        change(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: url)
    }

    @Test("a ResNet image tower is an unsupported architecture")
    func resnet() throws {
        let directory = try copy("oc-vit-gelu-p16")
        try rewriteConfig(directory, "open_clip_config.json") { config in
            var model = config["model_cfg"] as! [String: Any]
            var vision = model["vision_cfg"] as! [String: Any]
            vision["layers"] = [3, 4, 6, 3]
            model["vision_cfg"] = vision
            config["model_cfg"] = model
        }
        #expect(loadError(directory.path)?.localizedDescription
            == "\(directory.file("open_clip_config.json")): unsupported architecture: ResNet image tower (vision_cfg.layers is a list); only ViT towers are supported")
    }

    @Test("a timm or Hugging Face tower is an unsupported architecture")
    func foreignTowers() throws {
        let directory = try copy("oc-vit-gelu-p16")
        try rewriteConfig(directory, "open_clip_config.json") { config in
            var model = config["model_cfg"] as! [String: Any]
            var text = model["text_cfg"] as! [String: Any]
            text["hf_model_name"] = "xlm-roberta-base"
            model["text_cfg"] = text
            config["model_cfg"] = model
        }
        #expect(loadError(directory.path)?.localizedDescription.hasSuffix("unsupported architecture: text_cfg.hf_model_name is set") == true)
    }

    @Test("a transformers model that is not CLIP")
    func otherTransformersModel() throws {
        let directory = try copy("hf-vit-quickgelu-p8")
        try rewriteConfig(directory, "config.json") { config in config["model_type"] = "blip" }
        #expect(loadError(directory.path)?.localizedDescription
            == "\(directory.file("config.json")): unsupported architecture: model_type \"blip\" (supported: \"clip\", \"chinese_clip\", \"siglip\")")
    }

    @Test("a configuration that is not JSON, or lacks a field")
    func brokenConfiguration() throws {
        let directory = try copy("oc-vit-gelu-p16")
        try Data("{\"model_cfg\": ".utf8).write(to: URL(fileURLWithPath: directory.file("open_clip_config.json")))
        #expect(loadError(directory.path) == .invalidConfiguration(path: directory.file("open_clip_config.json"), reason: "not valid JSON: the text ends early"))
        try Data("{\"model_cfg\": {\"embed_dim\": 18446744073709551621}}".utf8).write(to: URL(fileURLWithPath: directory.file("open_clip_config.json")))
        #expect(loadError(directory.path) == .invalidConfiguration(path: directory.file("open_clip_config.json"), reason: "the number 18446744073709551621 at byte 28 (field model_cfg.embed_dim) is out of range"))
        // Swift's decoder calls a fraction where a whole number belongs "not valid JSON", naming nothing.
        try Data("{\"model_cfg\": {\"embed_dim\": 24.5, \"vision_cfg\": {}, \"text_cfg\": {}}}".utf8)
            .write(to: URL(fileURLWithPath: directory.file("open_clip_config.json")))
        #expect(loadError(directory.path) == .invalidConfiguration(path: directory.file("open_clip_config.json"), reason: "field model_cfg.embed_dim is 24.5, not a whole number"))
        // And a number too large for any field (for a float, past 3.4e38) the same.
        try Data("{\"model_cfg\": {\"embed_dim\": 1e300, \"vision_cfg\": {}, \"text_cfg\": {}}}".utf8)
            .write(to: URL(fileURLWithPath: directory.file("open_clip_config.json")))
        #expect(loadError(directory.path) == .invalidConfiguration(path: directory.file("open_clip_config.json"), reason: "field model_cfg.embed_dim is 1e300, out of range"))
        let transformers = try copy("hf-vit-quickgelu-p8"), preprocessor = transformers.file("preprocessor_config.json")
        let configuration = try String(contentsOfFile: preprocessor, encoding: .utf8)
        try configuration.replacingOccurrences(of: "\"image_mean\": [\n    0.5,", with: "\"image_mean\": [\n    1e39,")
            .write(toFile: preprocessor, atomically: false, encoding: .utf8)
        #expect(loadError(transformers.path) == .invalidConfiguration(path: preprocessor, reason: "field image_mean[0] is 1e39, out of range"))
        try Data("{\"model_cfg\": {\"embed_dim\": 24, \"vision_cfg\": {\"layers\": 18446744073709551621}, \"text_cfg\": {}}}".utf8)
            .write(to: URL(fileURLWithPath: directory.file("open_clip_config.json")))
        #expect(loadError(directory.path) == .invalidConfiguration(path: directory.file("open_clip_config.json"), reason: "field model_cfg.vision_cfg.layers: 1.8446744073709552e+19 is out of range for a whole number"))
        try Data("{\"model_cfg\" 1}".utf8).write(to: URL(fileURLWithPath: directory.file("open_clip_config.json")))
        #expect(loadError(directory.path) == .invalidConfiguration(path: directory.file("open_clip_config.json"), reason: "not valid JSON: expected ':' at byte 13"))
        try Data("{\"model_cfg\": {\"vision_cfg\": {}, \"text_cfg\": {}}}".utf8).write(to: URL(fileURLWithPath: directory.file("open_clip_config.json")))
        #expect(loadError(directory.path) == .invalidConfiguration(path: directory.file("open_clip_config.json"), reason: "missing field model_cfg.embed_dim"))
        try Data("{\"model_cfg\": {\"embed_dim\": \"wide\", \"vision_cfg\": {}, \"text_cfg\": {}}}".utf8)
            .write(to: URL(fileURLWithPath: directory.file("open_clip_config.json")))
        #expect(loadError(directory.path) == .invalidConfiguration(path: directory.file("open_clip_config.json"), reason: "field model_cfg.embed_dim is not an integer"))
        try Data("[]".utf8).write(to: URL(fileURLWithPath: directory.file("open_clip_config.json")))
        #expect(loadError(directory.path) == .invalidConfiguration(path: directory.file("open_clip_config.json"), reason: "the top level is not an object"))
    }

    @Test("a random model written as a checkpoint holds exactly the tensors its configuration reads, the same for the same seed")
    func writtenRandomCheckpoint() throws {
        let first = try TemporaryDirectory(), second = try TemporaryDirectory()
        var configuration = ModelConfiguration.vitB32
        configuration.vision = VisionConfiguration(imageSize: 32, patchSize: 16, transformer: .init(
            width: 32, layers: 2, heads: 2, mlpWidth: 64, activation: .quickGelu, layerNormEpsilon: 1e-5))
        configuration.text.transformer = .init(width: 32, layers: 2, heads: 2, mlpWidth: 64, activation: .quickGelu, layerNormEpsilon: 1e-5)
        configuration.embeddingSize = 16
        try RandomCheckpoint.write(configuration, towers: .both, to: first.path, seed: 3)
        try RandomCheckpoint.write(configuration, towers: .both, to: second.path, seed: 3)
        #expect(FileManager.default.contents(atPath: first.file("open_clip_model.safetensors"))
            == FileManager.default.contents(atPath: second.file("open_clip_model.safetensors")))
        // Loading checks that nothing is missing or unused.
        let written = try CLIPModel(directory: first.path)
        #expect(written.configuration == configuration)
        let names = try CLIPModel.checkpointTensors(configuration, towers: .both).map(\.name)
        #expect(Set(try TensorFile(path: first.file("open_clip_model.safetensors")).tensors.keys) == Set(names))
        let pixels = (0..<(2 * written.preprocessor.valuesPerImage)).map { Float($0 % 17) / 8 - 1 }
        let again = try CLIPModel(directory: second.path)
        #expect(written.encode(pixelValues: pixels, count: 2) == again.encode(pixelValues: pixels, count: 2))
        #expect(written.encode(texts: ["a cat", "two dogs"]).allSatisfy { $0.allSatisfy(\.isFinite) })
    }

    @Test("a random SigLIP model (transformers' layout: its packed in_proj read twice) is written with each tensor once, and loads")
    func writtenRandomSiglipCheckpoint() throws {
        let folder = try TemporaryDirectory()
        var configuration = ModelConfiguration.siglip2(.base, imageSize: 32)
        let small = TransformerConfiguration(width: 32, layers: 2, heads: 2, mlpWidth: 64, activation: .geluTanh, layerNormEpsilon: 1e-6)
        configuration.vision.transformer = small
        configuration.text.transformer = small
        configuration.text.vocabularySize = 400
        configuration.embeddingSize = 32
        let names = try CLIPModel.checkpointTensors(configuration, towers: .both).map(\.name)
        #expect(Set(names).count == names.count, "a name twice: \(names.filter { name in names.filter { $0 == name }.count > 1 })")
        try RandomCheckpoint.write(configuration, towers: .both, to: folder.path)
        // (A name given twice left its first copy's bytes in the file as no tensor's, which loading refuses.)
        let written = try CLIPModel(directory: folder.path)
        #expect(Set(try TensorFile(path: folder.file("model.safetensors")).tensors.keys) == Set(names))
        #expect(written.encode(texts: ["a cat"]).allSatisfy { $0.allSatisfy(\.isFinite) })
    }

    @Test("configurations read the reference's fields")
    func configurationValues() throws {
        let openCLIP = try CLIPModel(directory: Fixtures.path("models/oc-vit-gelu-p16"))
        #expect(openCLIP.configuration.vision == VisionConfiguration(imageSize: 64, patchSize: 16, transformer: .init(
            width: 64, layers: 2, heads: 2, mlpWidth: 256, activation: .gelu, layerNormEpsilon: 1e-5)))
        #expect(openCLIP.configuration.text.transformer.heads == 2)
        #expect(openCLIP.preprocessor.configuration == PreprocessConfiguration(imageSize: 64))
        let transformers = try CLIPModel(directory: Fixtures.path("models/hf-vit-quickgelu-p8"))
        #expect(transformers.configuration.vision.transformer == .init(
            width: 48, layers: 3, heads: 4, mlpWidth: 96, activation: .quickGelu, layerNormEpsilon: 1e-5))
        #expect(transformers.configuration.embeddingSize == 24)
        #expect(transformers.preprocessor.configuration.mean == [0.5, 0.5, 0.5])
    }

    @Test("absurd numbers in a configuration are refused before anything is allocated", arguments: [
        ("vision_cfg", "image_size", ConfigNumber.integer(1 << 40), "the image size 1099511627776 is not between 1 and 4096"),
        ("vision_cfg", "width", .integer(1 << 62), "vision_cfg.width 4611686018427387904 is not between 1 and 16384"),
        ("vision_cfg", "mlp_ratio", .real(1e300), "vision_cfg.mlp_ratio 1e+300 is not above 0 and at most 64"),
        ("vision_cfg", "layers", .integer(1_000_000), "the image tower's layer count 1000000 is not between 1 and 256"),
        ("vision_cfg", "layers", .integer(1 << 31), "the image tower's layer count 2147483648 is not between 1 and 256"),
        ("text_cfg", "context_length", .integer(1 << 40), "the context length 1099511627776 is not between 1 and 4096"),
        ("text_cfg", "width", .integer(0), "text_cfg.width 0 is not a multiple of heads 2"),
        // Within the limits, but 26 M values over a 0.15 M-value tower: refused before the towers allocate them.
        ("vision_cfg", "width", .integer(1024), "it describes an image tower of 26034176 values, but"),
    ])
    func absurdNumbers(tower: String, field: String, value: ConfigNumber, message: String) throws {
        let directory = try copy("oc-vit-gelu-p16")
        try rewriteConfig(directory, "open_clip_config.json") { config in
            var model = config["model_cfg"] as! [String: Any]
            var part = model[tower] as! [String: Any]
            switch value {
            case let .integer(number): part[field] = number
            case let .real(number): part[field] = number
            }
            model[tower] = part
            config["model_cfg"] = model
        }
        let text = loadError(directory.path)?.localizedDescription ?? "(loaded)"
        #expect(text.hasPrefix(directory.file("open_clip_config.json") + ": invalid configuration: " + message), "\(text)")
    }
}

/// A number to put into a configuration file.
enum ConfigNumber: Sendable {
    case integer(Int)
    case real(Double)
}
