import Foundation
@testable import CLIP

/// Writes .safetensors files for tests, including deliberately broken ones.
struct SafetensorsWriter {
    struct Tensor {
        var name: String
        var dtype: String = "F32"
        var shape: [Int]
        var bytes: [UInt8]

        init(name: String, shape: [Int], values: [Float]) {
            self.name = name
            self.shape = shape
            bytes = values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
        }

        init(name: String, dtype: String, shape: [Int], bytes: [UInt8]) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }
    }

    var tensors: [Tensor] = []

    /// The header JSON and data section.
    func encoded() -> (header: String, data: [UInt8]) {
        var entries: [String] = []
        var data: [UInt8] = []
        for tensor in tensors {
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            entries.append("\"\(tensor.name)\":{\"dtype\":\"\(tensor.dtype)\",\"shape\":[\(shape)],\"data_offsets\":[\(data.count),\(data.count + tensor.bytes.count)]}")
            data += tensor.bytes
        }
        return ("{" + entries.joined(separator: ",") + "}", data)
    }

    static func file(header: String, data: [UInt8], headerLength: UInt64? = nil) -> [UInt8] {
        let headerBytes = Array(header.utf8)
        let length = headerLength ?? UInt64(headerBytes.count)
        return withUnsafeBytes(of: length.littleEndian, Array.init) + headerBytes + data
    }

    func write(to path: String) throws {
        let (header, data) = encoded()
        try Data(Self.file(header: header, data: data)).write(to: URL(fileURLWithPath: path))
    }

    /// Every tensor of an existing checkpoint, as F32.
    static func copying(_ path: String) throws -> SafetensorsWriter {
        let file = try TensorFile(path: path)
        var writer = SafetensorsWriter()
        for name in file.tensors.keys.sorted() {
            writer.tensors.append(Tensor(name: name, shape: file.tensors[name]!.shape, values: file.floats(name)!))
        }
        return writer
    }
}
