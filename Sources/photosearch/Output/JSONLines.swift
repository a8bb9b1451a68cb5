import FileAccess
import Foundation

/// JSON output: one object per line, keys sorted (JSONEncoder on Linux keeps
/// no declaration order), slashes unescaped so paths read as paths, numbers
/// in Swift's shortest round-trip form.
enum JSONLines {
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// A path's bytes in base64 when its name is not UTF-8, so that JSON,
    /// whose text is Unicode, still names the file exactly (`path` then
    /// shows each such byte as `\xNN`, which a real name could also hold).
    static func pathBytes(_ path: String) -> String? {
        FilePaths.isUnicode(path) ? nil : Data(FilePaths.fileSystemBytes(path)).base64EncodedString()
    }

    /// One line of JSON for `value`.
    static func line<Value: Encodable>(_ value: Value) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }

    /// Prints `value` as one line and flushes, so that a reader of a pipe sees
    /// each event as it happens.
    static func print<Value: Encodable>(_ value: Value) throws {
        Terminal.output(try line(value))
    }
}
