import CFuzzerDriver
import CLIP
import Foundation

/// The PyTorch .bin reader: the zip directory (ZIP64 included), the
/// restricted unpickler, every storage and tensor bound, and every tensor
/// of an accepted file read back.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-pytorch-\(getpid()).bin").path
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes: data, count: size))
    if let file = try? TensorFile(path: path) {
        for name in file.tensors.keys { _ = file.floats(name) }
    }
    return 0
}

/// The executable's entry point (SwiftPM calls it fuzz_pytorch_main): libFuzzer's driver.
@_cdecl("fuzz_pytorch_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, fuzz)
}
