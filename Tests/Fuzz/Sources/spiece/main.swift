import CFuzzerDriver
@_spi(Fuzzing) import CLIP

/// SentencePiece models (spiece.model: protobuf, the normaliser's Darts
/// trie, the pieces) as a model folder may hold them, and the encoding of a
/// text with whatever the reader accepts.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = SentencePieceProbe.encode(model: bytes, text: "A dog running on the beach, ＡＢＣ　海边的日落 ☃\u{0}\u{FFFD}")
    return 0
}

/// The executable's entry point (SwiftPM calls it fuzz_spiece_main): libFuzzer's driver.
@_cdecl("fuzz_spiece_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, fuzz)
}
