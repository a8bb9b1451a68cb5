import FileAccess
import Foundation

/// Reading the JSON a model folder holds (configurations, the safetensors
/// header, vocab.json) through `Codable`, with errors that say which field is
/// wrong and how.
enum JSONFile {
    /// Decodes `data`; a failure becomes `error(reason)`.
    static func decode<T: Decodable>(_ type: T.Type, from data: Data,
                                     error: (String) -> CLIPError) throws(CLIPError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let decoding as DecodingError {
            throw error(describe(decoding, in: data, decoding: T.self))
        } catch let other {
            throw error("\(other)")
        }
    }

    /// The largest vocabulary read whole: Gemma's tokenizer.json (256 000
    /// pieces) is 34 MB, and decoding JSON takes about 15 times its size
    /// (256 MB allowed 3.7 GB before a lying file was refused).
    static let maximumSize = 64 << 20
    /// The largest configuration: they are kilobytes; tokenizer_config.json
    /// with every added token listed, a megabyte or two.
    static let maximumConfigurationSize = 16 << 20

    /// The bytes of a model's text file (a configuration, a vocabulary): a
    /// regular file of at most `limit` bytes.
    static func contents(of path: String, limit: Int = maximumSize) throws(CLIPError) -> Data {
        do {
            return Data(try RegularFile.contents(of: path, limit: limit))
        } catch .missing {
            throw .missingFile(path: path)
        } catch {
            throw .cannotRead(path: path, reason: error.reason)
        }
    }

    /// Reads and decodes the file at `path` (a configuration file).
    static func read<T: Decodable>(_ type: T.Type, path: String) throws(CLIPError) -> T {
        try decode(T.self, from: try contents(of: path, limit: maximumConfigurationSize)) { .invalidConfiguration(path: path, reason: $0) }
    }

    /// What went wrong in `data`, naming the field ("vision_cfg.layers", "[3]").
    static func describe<T: Decodable>(_ error: DecodingError, in data: Data, decoding type: T.Type) -> String {
        switch error {
        case let .dataCorrupted(context) where context.codingPath.isEmpty:
            let bytes = Array(data)
            if let problem = JSONSyntax.firstProblem(in: bytes) { return problem }
            // Valid JSON whose numbers all fit: a fraction where a whole
            // number belongs, which Swift's decoder does not locate. Find
            // the one that, made whole, lets the document decode further.
            for (field, range) in JSONSyntax.fractionalNumbers(in: bytes).prefix(64) {
                var patched = bytes
                patched.replaceSubrange(range, with: Array("0".utf8))
                do {
                    _ = try JSONDecoder().decode(T.self, from: Data(patched))
                } catch let DecodingError.dataCorrupted(again) where again.codingPath.isEmpty {
                    continue
                } catch {}
                let text = String(decoding: bytes[range], as: UTF8.self), value = Double(text) ?? .infinity
                // (Beyond 2^63 a number fits neither an integer nor, past
                // 3.4e38, a 32-bit float: either field refuses it.)
                if !(value.magnitude < 0x1p63) || value.magnitude > Double(Float.greatestFiniteMagnitude) {
                    return "field \(field) is \(text), out of range"
                }
                return "field \(field) is \(text), not a whole number"
            }
            return "not valid JSON"
        case let .keyNotFound(key, context):
            return "missing field \(path(context.codingPath + [key]))"
        case let .typeMismatch(type, context):
            return "\(field(context.codingPath)) is not \(expectation(type))"
        case let .valueNotFound(type, context):
            return "\(field(context.codingPath)) is null, expected \(expectation(type))"
        case let .dataCorrupted(context):
            return "\(field(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    /// "field vision_cfg.width", or "the top level" for the whole document.
    static func field(_ codingPath: [CodingKey]) -> String {
        codingPath.isEmpty ? "the top level" : "field " + path(codingPath)
    }

    /// "vision_cfg.width", "shape[1]".
    static func path(_ codingPath: [CodingKey]) -> String {
        codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            .replacingOccurrences(of: ".[", with: "[")
    }

    private static func expectation(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is Int64.Type, is UInt64.Type: return "an integer"
        case is Double.Type, is Float.Type: return "a number"
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        default:
            let name = "\(type)"
            if name.hasPrefix("Array") { return "a list" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return "a valid value"
        }
    }
}
