/// GPT-2/CLIP's reversible byte → character map (open_clip/tokenizer.py
/// `bytes_to_unicode`): printable Latin-1 bytes map to themselves, the other 68
/// bytes to U+0100 onwards, so that BPE never sees whitespace or control bytes.
enum ByteEncoder {
    /// Byte values in the order `bytes_to_unicode()` lists them (its dict order).
    static let byteOrder: [UInt8] = {
        let printable = Array(UInt8(0x21)...UInt8(0x7E)) + Array(UInt8(0xA1)...UInt8(0xAC)) + Array(UInt8(0xAE)...UInt8(0xFF))
        let rest = (0...255).map(UInt8.init).filter { !printable.contains($0) }
        return printable + rest
    }()

    /// byte → its character, as a one-character String.
    static let characters: [String] = {
        var table = [String](repeating: "", count: 256)
        var next: UInt32 = 256
        for byte in byteOrder {
            let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
            let scalar: Unicode.Scalar
            if printable {
                scalar = Unicode.Scalar(byte)
            } else {
                scalar = Unicode.Scalar(next)!
                next += 1
            }
            table[Int(byte)] = String(Character(scalar))
        }
        return table
    }()
}
