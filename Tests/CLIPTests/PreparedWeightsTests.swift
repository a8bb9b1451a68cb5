import Compute
import Foundation
import Imaging
import Synchronization
import Testing
import TestSupport
@testable import CLIP

/// Prepared weights: packed once, mapped afterwards, and never trusted when
/// stale, truncated or damaged.
@Suite("Prepared weights")
struct PreparedWeightsTests {
    /// A copy of a fixture model and an empty cache folder, and the notices
    /// the cache gave.
    final class Setup {
        let folder: TemporaryDirectory
        let model: String
        let cache: String
        private let said = Notices()

        final class Notices: Sendable {
            let lines = Mutex<[String]>([])
        }

        init(_ fixture: String) throws {
            folder = try TemporaryDirectory()
            model = folder.file("model")
            cache = folder.file("cache")
            try FileManager.default.copyItem(atPath: Fixtures.path("models/" + fixture), toPath: model)
        }

        var prepared: PreparedWeightsCache {
            PreparedWeightsCache(directory: cache) { [said] line in said.lines.withLock { $0.append(line) } }
        }

        /// The notices since the last call.
        func notices() -> [String] { said.lines.withLock { lines in defer { lines = [] }; return lines } }

        func load(_ towers: CLIPModel.Towers = .both, precision: Precision) throws -> CLIPModel {
            try CLIPModel(directory: model, towers: towers, precision: precision, prepared: prepared)
        }

        /// The prepared files (not their verification notes).
        var files: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: cache)) ?? []).filter { !$0.hasSuffix(".verified") }.sorted() }

        func file(_ tower: String, _ precision: Precision) -> String {
            cache + "/" + files.first { $0.hasSuffix("-\(tower)-\(precision.rawValue).prepared") }!
        }
    }

    /// Embeddings of every fixture image and text the reference has.
    static func embeddings(_ model: CLIPModel, _ reference: Fixtures.Reference) throws -> [[Float]] {
        let decoder = ImageDecoder()
        let images = try reference.images.map { try decoder.decode(path: Fixtures.path($0.file)).bitmap }
        return model.encode(images: images) + model.encode(texts: reference.texts.map(\.text))
    }

    @Test("the first load prepares and says so; later loads map the file and embed bit for bit the same",
          arguments: Fixtures.models, Precision.allCases)
    func preparedOnce(model name: String, precision: Precision) throws {
        let setup = try Setup(name)
        let reference = try Fixtures.reference(name)
        let plain = try Self.embeddings(try CLIPModel(directory: setup.model, precision: precision), reference)

        let first = try Self.embeddings(try setup.load(precision: precision), reference)
        #expect(first == plain)
        #expect(setup.notices() == ["image", "text"].map { "preparing model (\($0) tower, \(precision.rawValue)) for this computer; later runs load it ready-made" })
        #expect(setup.files.count == 2)

        let second = try Self.embeddings(try setup.load(precision: precision), reference)
        #expect(second == plain)
        #expect(setup.notices().isEmpty)
        #expect(!setup.files.contains { $0.hasSuffix(".tmp") })
    }

    @Test("a damaged, truncated or foreign file is refused, said so, and prepared again",
          arguments: ["flipped byte", "flipped byte, modification time put back", "truncated", "header", "empty", "not ours"])
    func damaged(kind: String) throws {
        let setup = try Setup("oc-vit-quickgelu-p8")
        let reference = try Fixtures.reference("oc-vit-quickgelu-p8")
        let expected = try Self.embeddings(try setup.load(precision: .int8), reference)
        _ = setup.notices()
        let path = setup.file("text", .int8)
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        switch kind {
        case "flipped byte": bytes[bytes.count - 100] ^= 0x10
        case "flipped byte, modification time put back": break   // written in place below
        case "truncated": bytes.removeLast(4096)
        case "header": bytes[40] ^= 0x01
        case "empty": bytes = []
        default: bytes = Array("not a prepared file at all".utf8)
        }
        if kind.hasSuffix("put back") {
            // In place, as a disk fault or a stray write would, its mtime
            // restored: the verification note (made by the load that
            // verified it) must not vouch for it.
            _ = try setup.load(precision: .int8)
            #expect(FileManager.default.fileExists(atPath: path + ".verified"))
            let before = try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date
            let descriptor = open(path, O_WRONLY)
            #expect(pwrite(descriptor, [bytes[bytes.count - 100] ^ 0x10], 1, off_t(bytes.count - 100)) == 1)
            close(descriptor)
            try FileManager.default.setAttributes([.modificationDate: before as Any], ofItemAtPath: path)
        } else {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }

        let again = try Self.embeddings(try setup.load(precision: .int8), reference)
        #expect(again == expected)
        let notices = setup.notices()
        #expect(notices.count == 1)
        #expect(notices.first?.hasPrefix("the prepared copy of model (text tower, int8) is damaged (") == true, "\(notices)")
        // Written again, whole: the next load is silent.
        _ = try setup.load(precision: .int8)
        #expect(setup.notices().isEmpty)
    }

    @Test("offsets and lengths near Int.max, under a valid header checksum, are refused without overflowing",
          arguments: [(Int.max - 7, 8, false), (0, Int.max - 7, false), (Int.max / 2, Int.max / 2 + 1, false), (-8, 16, false),
                      // No body at all: size minus body start is negative, and minus Int.max overflowed.
                      (0, Int.max - 7, true)])
    func offsetsNearIntMax(offset: Int, length: Int, withoutBody: Bool) throws {
        let setup = try Setup("oc-vit-gelu-p16")
        _ = try setup.load(.image, precision: .int8)
        let path = setup.file("image", .int8)
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let headerLength = Int(bytes[8..<16].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        var header = try #require(try JSONSerialization.jsonObject(with: Data(bytes[24..<(24 + headerLength)])) as? [String: Any])
        var entries = try #require(header["entries"] as? [[String: Any]])
        // A words entry: its length is only checked to be a positive multiple of 8.
        let index = try #require(entries.firstIndex { ($0["kind"] as? String) == "words" } ?? entries.indices.first)
        entries[index]["kind"] = "words"
        entries[index]["offset"] = offset
        entries[index]["length"] = length
        header["entries"] = entries
        let json = Array(try JSONSerialization.data(withJSONObject: header))
        try #require(json.count <= 4096 - 24)
        bytes.replaceSubrange(24..<(24 + headerLength), with: json + [UInt8](repeating: 0x20, count: max(0, headerLength - json.count)))
        let newLength = max(headerLength, json.count)
        withUnsafeBytes(of: UInt64(newLength).littleEndian) { bytes.replaceSubrange(8..<16, with: $0) }
        let checksum = ContentHash.xxh64(Array(bytes[24..<(24 + newLength)]))
        withUnsafeBytes(of: checksum.littleEndian) { bytes.replaceSubrange(16..<24, with: $0) }
        if withoutBody { bytes.removeSubrange((24 + newLength)...) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        guard case let .failure(.damaged(reason)) = PreparedWeightsFile.open(path: path, isCurrent: { _ in true }) else {
            Issue.record("accepted")
            return
        }
        #expect(reason.hasSuffix("lies outside the file or has the wrong size"), "\(reason)")
    }

    @Test("weights touched but unchanged keep their prepared copy; changed weights are prepared again")
    func changedWeights() throws {
        let setup = try Setup("oc-vit-gelu-p16")
        let reference = try Fixtures.reference("oc-vit-gelu-p16")
        _ = try setup.load(.text, precision: .int8)
        _ = setup.notices()
        let weights = setup.model + "/open_clip_model.safetensors"

        // Same bytes, new modification time: no notice, and saved again under
        // the new identity (the next load is silent too).
        var times = [timespec(tv_sec: 1_600_000_000, tv_nsec: 0), timespec(tv_sec: 1_600_000_000, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, weights, &times, 0) == 0)
        _ = try setup.load(.text, precision: .int8)
        #expect(setup.notices().isEmpty)
        let header = try PreparedWeightsFile.open(path: setup.file("text", .int8), tower: "text", precision: .int8,
                                                  weights: WeightsFileIdentity(path: weights)!).get().header
        #expect(header.weights.modifiedAt == 1_600_000_000 * 1_000_000_000)

        // Other weights of the same shape in the same file: prepared again,
        // and the embeddings are the new weights'.
        let other = try Setup("oc-vit-gelu-p16")
        try RandomCheckpoint.write(try CLIPModel(directory: other.model, towers: .text).configuration, towers: .both,
                                   to: other.model, seed: 77)
        try FileManager.default.removeItem(atPath: weights)
        try FileManager.default.copyItem(atPath: other.model + "/open_clip_model.safetensors", toPath: weights)
        let changed = try setup.load(.text, precision: .int8)
        #expect(setup.notices() == ["preparing model (text tower, int8) for this computer again: its weights changed"])
        let fresh = try CLIPModel(directory: setup.model, towers: .text, precision: .int8)
        let texts = reference.texts.map(\.text)
        #expect(changed.encode(texts: texts) == fresh.encode(texts: texts))
    }

    @Test("an edited vocabulary is read again; the matrices stay")
    func editedVocabulary() throws {
        let setup = try Setup("hf-vit-quickgelu-p8")
        _ = try setup.load(.text, precision: .fp32)
        _ = setup.notices()
        let merges = setup.model + "/merges.txt"
        var times = [timespec(tv_sec: 1_600_000_000, tv_nsec: 0), timespec(tv_sec: 1_600_000_000, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, merges, &times, 0) == 0)
        let model = try setup.load(.text, precision: .fp32)
        // Nothing to say: the matrices were mapped, the vocabulary read and saved.
        #expect(setup.notices().isEmpty)
        let header = try PreparedWeightsFile.open(path: setup.file("text", .fp32), tower: "text", precision: .fp32,
                                                  weights: WeightsFileIdentity(path: setup.model + "/model.safetensors")!).get().header
        let vocabularies = header.entries.filter { $0.kind == .words }.map(\.name)
        #expect(vocabularies.count == 1 && vocabularies[0].contains("-1600000000000000000-"), "\(vocabularies)")
        #expect(model.tokenizer?.tokenize("a photo of a cat") == [49406, 320, 1125, 539, 320, 2368, 49407])
    }

    @Test("a cache that cannot be written costs time, not the model")
    func unwritableCache() throws {
        let setup = try Setup("oc-vit-quickgelu-p8")
        // A file where the cache folder should be.
        _ = FileManager.default.createFile(atPath: setup.cache, contents: Data())
        let reference = try Fixtures.reference("oc-vit-quickgelu-p8")
        let model = try setup.load(.text, precision: .int8)
        let notices = setup.notices()
        #expect(notices.count == 2)
        #expect(notices.last?.hasPrefix("could not save the prepared model (text tower, int8): ") == true, "\(notices)")
        let plain = try CLIPModel(directory: setup.model, towers: .text, precision: .int8)
        let texts = reference.texts.map(\.text)
        #expect(model.encode(texts: texts) == plain.encode(texts: texts))
    }

    @Test("a checkpoint with a tensor missing is refused and leaves no prepared copy")
    func missingTensor() throws {
        let setup = try Setup("siglip2-p8")
        var writer = try SafetensorsWriter.copying(setup.model + "/model.safetensors")
        writer.tensors.removeAll { $0.name == "text_model.encoder.layers.1.mlp.fc1.weight" }
        try writer.write(to: setup.model + "/model.safetensors")
        for _ in 0..<2 {
            #expect(throws: CLIPError.missingTensors(path: setup.model + "/model.safetensors",
                                                     names: ["text_model.encoder.layers.1.mlp.fc1.weight"])) {
                _ = try setup.load(.text, precision: .int8)
            }
        }
        #expect(setup.files.isEmpty)
    }

    @Test("files of deleted models and of writers that died are removed when another is saved")
    func pruning() throws {
        let setup = try Setup("oc-vit-quickgelu-p8")
        _ = try setup.load(.text, precision: .int8)
        let gone = try Setup("oc-vit-quickgelu-p8")
        _ = try CLIPModel(directory: gone.model, towers: .text, precision: .fp32, prepared: setup.prepared)
        try FileManager.default.removeItem(atPath: gone.model)
        // A temporary file of a process that no longer exists (pid 2^22 + 1
        // is above Linux's pid_max limit), and one of this live process.
        let dead = setup.cache + "/.x-text-int8.prepared.4194305-1.tmp"
        let live = setup.cache + "/.x-text-int8.prepared.\(getpid())-1.tmp"
        for path in [dead, live] { _ = FileManager.default.createFile(atPath: path, contents: Data([1])) }
        #expect(setup.files.count == 4)

        _ = try setup.load(.image, precision: .int8)
        #expect(setup.files.count == 3)
        #expect(setup.files.filter { $0.hasSuffix(".prepared") }.allSatisfy { !$0.hasSuffix("-fp32.prepared") })
        #expect(FileManager.default.fileExists(atPath: live) && !FileManager.default.fileExists(atPath: dead))
    }
}
