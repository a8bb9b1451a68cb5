import CFuzzerDriver
@_spi(Fuzzing) import CLIP
import Foundation

/// Prepared-weights files (the towers packed once, mapped by later runs):
/// the header, its checksum, every matrix's offset and size (with
/// overflow-safe arithmetic), every matrix's checksum; the last byte of
/// every matrix of an accepted file read.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-prepared-\(getpid())").path
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes: data, count: size))
    _ = PreparedFileProbe.open(path: path)
    return 0
}

/// The executable's entry point (SwiftPM calls it fuzz_prepared_main): libFuzzer's driver.
@_cdecl("fuzz_prepared_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, fuzz)
}
