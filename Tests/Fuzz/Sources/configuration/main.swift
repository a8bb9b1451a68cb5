import CFuzzerDriver
import CLIP
import Foundation

/// A model folder's configuration: open_clip_config.json or config.json
/// (the first byte chooses), read and checked before any weights (an empty
/// weights file stops the load right after).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    guard size > 1 else { return 0 }
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-configuration-\(getpid())").path
    try? FileManager.default.removeItem(atPath: folder)
    try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let openCLIP = data[0] % 2 == 0
    let body = Data(bytes: data + 1, count: size - 1)
    _ = FileManager.default.createFile(atPath: folder + (openCLIP ? "/open_clip_config.json" : "/config.json"), contents: body)
    _ = FileManager.default.createFile(atPath: folder + (openCLIP ? "/open_clip_model.safetensors" : "/model.safetensors"), contents: Data())
    _ = try? CLIPModel(directory: folder)
    return 0
}

/// The executable's entry point (SwiftPM calls it fuzz_configuration_main): libFuzzer's driver.
@_cdecl("fuzz_configuration_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, fuzz)
}
