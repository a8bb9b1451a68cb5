import CFuzzerDriver
import CLIP

let tokenizer = try! CLIPTokenizer.standard()

/// CLIP's tokenizer (text cleaning, word splitting, BPE) on any text a query
/// box can send.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let ids = tokenizer.tokenize(text)
    precondition(ids.count <= tokenizer.contextLength && ids.first == tokenizer.startOfTextId && ids.last == tokenizer.endOfTextId)
    return 0
}

/// The executable's entry point (SwiftPM calls it fuzz_tokenizer_main): libFuzzer's driver.
@_cdecl("fuzz_tokenizer_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, fuzz)
}
