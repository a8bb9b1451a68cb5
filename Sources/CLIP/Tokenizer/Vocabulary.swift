import CZlib
import Foundation

/// A BPE vocabulary: token → id, the merge list, and the start/end-of-text tokens.
struct Vocabulary: Sendable {
    let ids: [String: Int]
    let merges: [(String, String)]
    let startOfText: String
    let endOfText: String

    var startId: Int { ids[startOfText]! }
    var endId: Int { ids[endOfText]! }

    /// Number of merges CLIP uses from its merge file (open_clip and
    /// transformers both slice `[1 : 49152 - 256 - 2 + 1]`).
    static let mergeCount = 49152 - 256 - 2

    /// OpenAI's bpe_simple_vocab_16e6.txt.gz as open_clip builds it: the 256
    /// byte characters, the same with "</w>", one token per merge, then
    /// "<start_of_text>" and "<end_of_text>" (ids 49406 and 49407).
    static func standard() throws(CLIPError) -> Vocabulary {
        guard let url = Bundle.module.url(forResource: "bpe_simple_vocab_16e6.txt", withExtension: "gz") else {
            throw .missingFile(path: "bpe_simple_vocab_16e6.txt.gz (resource bundle photosearch_CLIP.resources)")
        }
        let path = url.path
        let text = try gunzip(path: path)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count > mergeCount else {
            throw .invalidVocabulary(path: path, reason: "\(lines.count) lines, expected at least \(mergeCount + 1)")
        }
        var merges: [(String, String)] = []
        merges.reserveCapacity(mergeCount)
        for line in lines[1...mergeCount] {
            let parts = line.split(separator: " ")
            guard parts.count == 2 else { throw .invalidVocabulary(path: path, reason: "malformed merge \"\(line)\"") }
            merges.append((String(parts[0]), String(parts[1])))
        }
        var tokens = ByteEncoder.byteOrder.map { ByteEncoder.characters[Int($0)] }
        tokens += tokens.map { $0 + "</w>" }
        tokens += merges.map { $0.0 + $0.1 }
        tokens += ["<start_of_text>", "<end_of_text>"]
        var ids: [String: Int] = [:]
        for (id, token) in tokens.enumerated() { ids[token] = id }
        return Vocabulary(ids: ids, merges: merges, startOfText: "<start_of_text>", endOfText: "<end_of_text>")
    }

    /// A transformers CLIPTokenizer's vocab.json and merges.txt.
    static func transformers(vocabularyPath: String, mergesPath: String) throws(CLIPError) -> Vocabulary {
        let vocabularyData: Data
        let mergesText: String
        do {
            vocabularyData = try Data(contentsOf: URL(fileURLWithPath: vocabularyPath))
        } catch {
            throw .cannotRead(path: vocabularyPath, reason: error.localizedDescription)
        }
        do {
            mergesText = try String(contentsOf: URL(fileURLWithPath: mergesPath), encoding: .utf8)
        } catch {
            throw .cannotRead(path: mergesPath, reason: error.localizedDescription)
        }
        guard let object = try? JSONSerialization.jsonObject(with: vocabularyData) as? [String: Any] else {
            throw .invalidVocabulary(path: vocabularyPath, reason: "not a JSON object of token ids")
        }
        var ids: [String: Int] = [:]
        for (token, value) in object {
            guard let id = (value as? NSNumber)?.intValue, id >= 0 else {
                throw .invalidVocabulary(path: vocabularyPath, reason: "token \(token) has no integer id")
            }
            ids[token] = id
        }
        let lines = mergesText.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n", omittingEmptySubsequences: false)
        var merges: [(String, String)] = []
        for line in lines.dropFirst().prefix(mergeCount) {
            let parts = line.split(separator: " ")
            guard parts.count == 2 else { throw .invalidVocabulary(path: mergesPath, reason: "malformed merge \"\(line)\"") }
            merges.append((String(parts[0]), String(parts[1])))
        }
        for token in ByteEncoder.characters where ids[token] == nil || ids[token + "</w>"] == nil {
            throw .invalidVocabulary(path: vocabularyPath, reason: "byte token \(token) is missing")
        }
        for special in ["<|startoftext|>", "<|endoftext|>"] where ids[special] == nil {
            throw .invalidVocabulary(path: vocabularyPath, reason: "special token \(special) is missing")
        }
        return Vocabulary(ids: ids, merges: merges, startOfText: "<|startoftext|>", endOfText: "<|endoftext|>")
    }

    private static func gunzip(path: String) throws(CLIPError) -> String {
        guard let file = gzopen(path, "rb") else { throw .cannotRead(path: path, reason: "cannot open") }
        defer { gzclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            if count < 0 { throw .invalidVocabulary(path: path, reason: "corrupt gzip data") }
            if count == 0 { break }
            bytes += chunk[0..<Int(count)]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
