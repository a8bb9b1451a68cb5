import CImageCodecs
#if canImport(Glibc)
import Glibc
#endif

/// Baseline JPEG encoding through libjpeg-turbo (benchmarks and tests make
/// photos with it).
public enum JPEGEncoder {
    public static func encode(_ image: Bitmap, quality: Int = 90) throws(ImagingError) -> [UInt8] {
        let rgb = image.droppingAlpha()
        var output: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = rgb.pixels.withUnsafeBufferPointer {
            ps_jpeg_encode($0.baseAddress, Int32(rgb.width), Int32(rgb.height), Int32(max(1, min(100, quality))),
                           &output, &size, &message, message.count)
        }
        defer { free(output) }
        guard status == Int32(PS_CODEC_OK), let output else {
            let reason = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw .corrupt(path: "(encoder)", format: "JPEG", reason: reason)
        }
        return Array(UnsafeBufferPointer(start: output, count: size))
    }
}
