import CFuzzerDriver
import Imaging

/// The image decoders (JPEG, PNG, WebP, HEIF by their signatures) and EXIF,
/// at full size or scaled; the pixel cap keeps each input small enough for
/// libFuzzer's memory limit.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let decoder = ImageDecoder(maximumPixels: 4_000_000, reducingPixels: 1_000_000)
    _ = try? decoder.decode(bytes: bytes, path: "fuzz", minimumShortSide: size % 2 == 0 ? nil : 32)
    return 0
}

/// The executable's entry point (SwiftPM calls it fuzz_image_main): libFuzzer's driver.
@_cdecl("fuzz_image_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, fuzz)
}
