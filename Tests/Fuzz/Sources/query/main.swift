import CFuzzerDriver
import PhotoIndex

/// The query language: terms, quotes, weights, operators, image paths.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? SearchQuery.parse(text) { $0.hasSuffix(".jpg") || $0.hasPrefix("/") }
    return 0
}

/// The executable's entry point (SwiftPM calls it fuzz_query_main): libFuzzer's driver.
@_cdecl("fuzz_query_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, fuzz)
}
