import Foundation
import Testing
import TestSupport
@testable import CLIP

/// PyTorch `.bin` checkpoints (torch.save's zip archive) are read without
/// running their pickle; hostile ones are refused, saying why
/// (fixtures/models/hostile, made by scripts/make-chinese-clip-fixtures.py).
@Suite("Reading PyTorch .bin checkpoints safely")
struct PyTorchCheckpointTests {
    func hostile(_ name: String) -> String { Fixtures.path("models/hostile/\(name)") }

    func refusal(_ name: String) -> String {
        do {
            _ = try TensorFile(path: hostile(name))
            Issue.record("\(name) was accepted")
            return ""
        } catch {
            return error.localizedDescription
        }
    }

    @Test("a state_dict archive reads as its tensors, mapped in place")
    func goodArchive() throws {
        let file = try TensorFile(path: hostile("good.bin"))
        #expect(file.format == .pytorch)
        #expect(file.tensors.keys.sorted() == ["w"])
        #expect(file.tensors["w"]?.shape == [2, 3] && file.tensors["w"]?.dtype == .f32)
        #expect(file.floats("w") == [1, 2, 3, 4, 5, 6])
    }

    @Test("a pickle that calls os.system is refused, and does not run")
    func osSystem() throws {
        let marker = "/tmp/photosearch-pickle-ran"
        try? FileManager.default.removeItem(atPath: marker)
        let message = refusal("os-system.bin")
        #expect(message == "\(hostile("os-system.bin")): refused: its pickle asks for os.system; photosearch reads only tensors from a checkpoint and never runs its code")
        // Python's pickle would have created the marker file here.
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test("hostile and damaged archives: one clear reason each", arguments: [
        ("builtins-eval.bin", "refused: its pickle asks for builtins.eval"),
        ("other-rebuild.bin", "refused: its pickle asks for torch._utils._rebuild_from_type_v2"),
        ("storage-out-of-range.bin", "tensor w (6 values from 4) lies outside its storage of 6"),
        ("storage-too-short.bin", "storage data/0 holds 24 bytes, not the 60 F32 values it claims"),
        ("missing-storage.bin", "tensor w's storage data/0 is missing"),
        ("strided.bin", "tensor w is not contiguous (size [3, 2], stride [1, 3])"),
        ("unknown-storage-type.bin", "refused: its pickle asks for torch.ComplexFloatStorage"),
        ("truncated.bin", "the archive is truncated: no end-of-directory record"),
        ("not-a-zip.bin", "it is not a zip archive"),
    ])
    func refused(file: String, reason: String) {
        let message = refusal(file)
        #expect(message.hasPrefix(hostile(file) + ": "), "\(message)")
        #expect(message.contains(reason), "\(message)")
    }

    @Test("values nested, shared or multiplied past the limits are refused, in time linear in the pickle", arguments: [
        // 300 000 nested 1-tuples: freed recursively, they overflowed the stack.
        ("deep-tuple.bin", "its pickle is malformed: its values nest more than 100 deep"),
        // The same depth built by appending to lists already inside another.
        ("deep-list.bin", "its pickle is malformed: it changes a list after putting it inside another value"),
        // 100 000 memoised chains of 1-tuples: freeing them was quadratic.
        ("memo-chain.bin", "its pickle is malformed: its values nest more than 100 deep"),
        // A dictionary holding itself as its "state_dict": unwrapped forever.
        ("self-reference.bin", "its pickle is malformed: a container is put inside itself"),
        ("many-containers.bin", "its pickle is malformed: it makes more than 1048576 containers"),
    ])
    func limits(file: String, reason: String) {
        let message = refusal(file)
        #expect(message == "\(hostile(file)): not a PyTorch checkpoint photosearch can read: \(reason)")
    }

    @Test("memo entries shared 2^90 ways are read as one object each")
    func sharedMemo() throws {
        // t[i] = (t[i-1], t[i-1]) for 90 levels in 700 bytes: a reader that
        // copies or walks values path by path never finishes this.
        let file = try TensorFile(path: hostile("shared-memo.bin"))
        #expect(file.tensors.isEmpty)
        let pickle = try #require(Self.pickle(of: hostile("shared-memo.bin")))
        let root = try pickle.withUnsafeBytes { bytes in try RestrictedUnpickler.load(bytes) }
        guard case let .dictionary(dictionary) = root, case var .tuple(node) = dictionary.values[1] else {
            Issue.record("not {\"w\": tuple}")
            return
        }
        #expect(node.depth == 91)
        var levels = 0
        while case let .tuple(child) = node.values.first {
            #expect(node.values.count == 2 && child === node.values[1].node, "both items are one shared tuple")
            node = child
            levels += 1
        }
        #expect(levels == 90)
    }

    /// data.pkl of a stored torch.save archive (the fixtures' zips store, never deflate).
    static func pickle(of path: String) -> Data? {
        guard let whole = FileManager.default.contents(atPath: path),
              let range = whole.range(of: Data("archive/data.pkl".utf8)) else { return nil }
        // Local header: 30 bytes, then the name, then the extra field; sizes at 18 and 26.
        let header = range.lowerBound - 30
        func little(_ offset: Int, _ width: Int) -> Int {
            (0..<width).reduce(0) { $0 | Int(whole[header + offset + $1]) << (8 * $1) }
        }
        let size = little(18, 4), start = range.upperBound + little(28, 2)
        return whole.subdata(in: start..<(start + size))
    }

    @Test("a Chinese-CLIP checkpoint in both formats holds the same tensors")
    func formatsAgree() throws {
        let bin = try TensorFile(path: Fixtures.path("models/cn-clip-vit-p8-bin/pytorch_model.bin"))
        let safetensors = try TensorFile(path: Fixtures.path("models/cn-clip-vit-p8/model.safetensors"))
        #expect(bin.format == .pytorch && safetensors.format == .safetensors)
        // The .bin also has the int64 position_ids buffer old checkpoints carry.
        #expect(bin.tensors["text_model.embeddings.position_ids"]?.dtype == .i64)
        #expect(Set(bin.tensors.keys).subtracting(safetensors.tensors.keys) == ["text_model.embeddings.position_ids"])
        for (name, info) in safetensors.tensors {
            #expect(bin.tensors[name]?.shape == info.shape, "\(name)")
            #expect(bin.floats(name) == safetensors.floats(name), "\(name)")
        }
    }

    @Test("every truncation of a real archive is refused or read within bounds, never a crash")
    func everyTruncation() throws {
        let whole = try Data(contentsOf: URL(fileURLWithPath: hostile("good.bin")))
        let directory = try TemporaryDirectory()
        var refusedCount = 0
        for length in stride(from: 0, to: whole.count, by: 7) {
            let path = directory.file("cut.bin")
            try whole.prefix(length).write(to: URL(fileURLWithPath: path))
            if (try? TensorFile(path: path)) == nil { refusedCount += 1 }
        }
        #expect(refusedCount == (whole.count + 6) / 7)
    }
}
