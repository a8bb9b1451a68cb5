/// Minimal JSON text building for the command-line output: one object per
/// line, numbers in Swift's shortest round-trip form.
enum JSONText {
    static func string(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static func number(_ value: Float) -> String {
        value.isFinite ? "\(value)" : "null"
    }

    static func number(_ value: Double) -> String {
        value.isFinite ? "\(value)" : "null"
    }

    static func array(_ values: [Float]) -> String {
        "[" + values.map(number).joined(separator: ",") + "]"
    }

    /// An object from already-encoded values, keys in the given order.
    static func object(_ fields: KeyValuePairs<String, String>) -> String {
        "{" + fields.map { string($0.key) + ":" + $0.value }.joined(separator: ",") + "}"
    }
}
