import CLIP
import Foundation

/// Writes .safetensors files for tests and benchmarks (random models),
/// including deliberately broken ones: an 8-byte header length, the JSON
/// header, the data.
public struct SafetensorsWriter {
    public struct Tensor {
        public var name: String
        public var dtype: String = "F32"
        public var shape: [Int]
        public var bytes: [UInt8]

        public init(name: String, shape: [Int], values: [Float]) {
            self.name = name
            self.shape = shape
            bytes = values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
        }

        public init(name: String, dtype: String, shape: [Int], bytes: [UInt8]) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }
    }

    public var tensors: [Tensor] = []

    public init(tensors: [Tensor] = []) {
        self.tensors = tensors
    }

    /// The header JSON and data section.
    public func encoded() -> (header: String, data: [UInt8]) {
        var entries: [String] = []
        var data: [UInt8] = []
        for tensor in tensors {
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            // The name as a JSON string, escaped (quotes, backslashes); the dtype as given, even a wrong one.
            let name = String(decoding: (try? JSONEncoder().encode(tensor.name)) ?? Data("\"\"".utf8), as: UTF8.self)
            entries.append("\(name):{\"dtype\":\"\(tensor.dtype)\",\"shape\":[\(shape)],\"data_offsets\":[\(data.count),\(data.count + tensor.bytes.count)]}")
            data += tensor.bytes
        }
        return ("{" + entries.joined(separator: ",") + "}", data)
    }

    public static func file(header: String, data: [UInt8], headerLength: UInt64? = nil) -> [UInt8] {
        let headerBytes = Array(header.utf8)
        let length = headerLength ?? UInt64(headerBytes.count)
        return withUnsafeBytes(of: length.littleEndian, Array.init) + headerBytes + data
    }

    /// Writes the file, the data 8-byte aligned (as safetensors' writer pads its header).
    public func write(to path: String) throws {
        let (header, data) = encoded()
        let padded = header + String(repeating: " ", count: (8 - header.utf8.count % 8) % 8)
        try Data(Self.file(header: padded, data: data)).write(to: URL(fileURLWithPath: path))
    }

    /// Every tensor of an existing checkpoint, as F32.
    public static func copying(_ path: String) throws -> SafetensorsWriter {
        let file = try TensorFile(path: path)
        var writer = SafetensorsWriter()
        for name in file.tensors.keys.sorted() {
            writer.tensors.append(Tensor(name: name, shape: file.tensors[name]!.shape, values: file.floats(name)!))
        }
        return writer
    }
}
