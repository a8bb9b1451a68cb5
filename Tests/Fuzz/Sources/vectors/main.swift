import CFuzzerDriver
import Foundation
@_spi(Fuzzing) import PhotoIndex

/// The search matrix file: header, capacity, checksum; every row of an
/// accepted file read.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-vectors-\(getpid())").path
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes: data, count: size))
    _ = VectorFileProbe.open(path: path, dimension: 32)
    return 0
}

/// The executable's entry point (SwiftPM calls it fuzz_vectors_main): libFuzzer's driver.
@_cdecl("fuzz_vectors_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, fuzz)
}
