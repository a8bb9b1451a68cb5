/// Container formats recognised by their first bytes, never by the file name.
public enum ImageFormat: String, Sendable, CaseIterable {
    case jpeg = "JPEG"
    case png = "PNG"
    case webp = "WebP"
    case heif = "HEIF"

    /// Brands of ISO base media files that libheif decodes as still images.
    static let heifBrands: Set<String> = ["heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1", "avif"]

    /// How many leading bytes `sniff` looks at.
    public static let sniffedBytes = 16

    /// Identifies the format from a file's leading bytes, or nil.
    public static func sniff<Bytes: Collection>(_ bytes: Bytes) -> ImageFormat? where Bytes.Element == UInt8 {
        let head = Array(bytes.prefix(sniffedBytes))
        if head.count >= 3, head[0] == 0xFF, head[1] == 0xD8, head[2] == 0xFF {
            return .jpeg
        }
        if head.count >= 8, Array(head[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] {
            return .png
        }
        if head.count >= 12, head[0..<4].elementsEqual("RIFF".utf8), head[8..<12].elementsEqual("WEBP".utf8) {
            return .webp
        }
        if head.count >= 12, head[4..<8].elementsEqual("ftyp".utf8),
           heifBrands.contains(String(decoding: head[8..<12], as: UTF8.self)) {
            return .heif
        }
        return nil
    }
}
