import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A `.safetensors` checkpoint opened through mmap: the JSON header is parsed
/// and checked once; tensor data is read from the mapping on demand and never
/// copied as a whole.
///
/// Format: 8-byte little-endian header length N, N bytes of JSON
/// `{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}`,
/// then the data, offsets relative to byte 8 + N.
public final class SafetensorsFile: @unchecked Sendable {
    /// Element types photosearch can read.
    public enum DType: String, Sendable {
        case f32 = "F32"
        case f16 = "F16"
        case bf16 = "BF16"

        var size: Int { self == .f32 ? 4 : 2 }
    }

    public struct TensorInfo: Sendable, Equatable {
        public let dtype: DType
        public let shape: [Int]
        /// Byte range inside the data section.
        let range: Range<Int>

        public var elementCount: Int { shape.reduce(1, *) }
    }

    public let path: String
    public let tensors: [String: TensorInfo]
    public let metadata: [String: String]

    private let base: UnsafeMutableRawPointer
    private let mappedSize: Int
    private let dataOffset: Int

    /// Largest header accepted (the format's reference reader uses 100 MB).
    static let maximumHeaderSize = 100_000_000

    public init(path: String) throws(CLIPError) {
        self.path = path
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let code = errno
            if code == ENOENT { throw .missingFile(path: path) }
            throw .cannotRead(path: path, reason: String(cString: strerror(code)).lowercased())
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw .cannotRead(path: path, reason: String(cString: strerror(errno)).lowercased())
        }
        let size = Int(status.st_size)
        guard size >= 8 else {
            throw .truncatedCheckpoint(path: path, reason: "\(size) bytes, shorter than the 8-byte header length")
        }
        guard let mapping = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), mapping != MAP_FAILED else {
            throw .cannotRead(path: path, reason: String(cString: strerror(errno)).lowercased())
        }
        base = mapping
        mappedSize = size

        do {
            let headerLength = UInt64(littleEndian: mapping.loadUnaligned(as: UInt64.self))
            guard headerLength <= UInt64(size - 8) else {
                throw CLIPError.invalidHeader(path: path, reason: "header length \(headerLength) runs past the end of the \(size)-byte file")
            }
            guard headerLength <= UInt64(Self.maximumHeaderSize) else {
                throw CLIPError.invalidHeader(path: path, reason: "header length \(headerLength) is over the 100 MB limit")
            }
            dataOffset = 8 + Int(headerLength)
            let header = Data(bytes: mapping + 8, count: Int(headerLength))
            (tensors, metadata) = try Self.parseHeader(header, path: path, dataSize: size - dataOffset)
        } catch let error as CLIPError {
            munmap(mapping, size)
            throw error
        } catch {
            munmap(mapping, size)
            throw .invalidHeader(path: path, reason: "\(error)")
        }
    }

    deinit {
        munmap(base, mappedSize)
    }

    private static func parseHeader(_ header: Data, path: String, dataSize: Int) throws(CLIPError)
        -> ([String: TensorInfo], [String: String]) {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: header)
        } catch {
            throw .invalidHeader(path: path, reason: "header is not valid JSON")
        }
        guard let entries = object as? [String: Any] else {
            throw .invalidHeader(path: path, reason: "header is not a JSON object")
        }
        var tensors: [String: TensorInfo] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in entries {
            if name == "__metadata__" {
                if let fields = value as? [String: Any] {
                    for (key, field) in fields { metadata[key] = field as? String }
                }
                continue
            }
            guard let entry = value as? [String: Any],
                  let dtypeName = entry["dtype"] as? String,
                  let shapeValues = entry["shape"] as? [Any],
                  let offsetValues = entry["data_offsets"] as? [Any], offsetValues.count == 2 else {
                throw .invalidHeader(path: path, reason: "entry \(name) lacks dtype, shape or data_offsets")
            }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw .unknownDType(path: path, tensor: name, dtype: dtypeName)
            }
            let shape = shapeValues.compactMap(Self.integer)
            guard shape.count == shapeValues.count, shape.allSatisfy({ $0 >= 0 }) else {
                throw .invalidHeader(path: path, reason: "entry \(name) has an invalid shape")
            }
            guard let begin = integer(offsetValues[0]), let end = integer(offsetValues[1]), begin >= 0, end >= begin else {
                throw .invalidHeader(path: path, reason: "entry \(name) has invalid data_offsets")
            }
            guard end <= dataSize else {
                throw .tensorOutOfBounds(path: path, tensor: name, reason: "data ends at byte \(end), past the \(dataSize)-byte data section")
            }
            var count = 1
            for dimension in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
                guard !overflow else { throw .invalidHeader(path: path, reason: "entry \(name) has an absurd shape") }
                count = product
            }
            guard count.multipliedReportingOverflow(by: dtype.size).partialValue == end - begin else {
                throw .tensorOutOfBounds(path: path, tensor: name, reason: "has \(end - begin) bytes of data, but shape \(shape) of \(dtype.rawValue) needs \(count * dtype.size)")
            }
            tensors[name] = TensorInfo(dtype: dtype, shape: shape, range: begin..<end)
        }
        return (tensors, metadata)
    }

    private static func integer(_ value: Any) -> Int? {
        if let number = value as? NSNumber {
            let double = number.doubleValue
            guard double == double.rounded(), abs(double) < 9e15 else { return nil }
            return number.intValue
        }
        return nil
    }

    /// Calls `body` with the tensor's values as Float32, in the file's
    /// (row-major) order: a view of the mapped file for aligned F32 data (no
    /// copy), a converted temporary buffer otherwise.
    public func withFloats<Result>(_ name: String, _ body: (UnsafeBufferPointer<Float>) throws -> Result) rethrows -> Result? {
        guard let info = tensors[name] else { return nil }
        if let mapped = mappedFloats(name) {
            return try body(UnsafeBufferPointer(start: mapped, count: info.elementCount))
        }
        return try floats(name)!.withUnsafeBufferPointer(body)
    }

    /// A pointer to the tensor's F32 values inside the mapping, when they can
    /// be used in place (valid as long as this file object lives).
    func mappedFloats(_ name: String) -> UnsafePointer<Float>? {
        guard let info = tensors[name], info.dtype == .f32 else { return nil }
        let address = base + dataOffset + info.range.lowerBound
        guard Int(bitPattern: address) % MemoryLayout<Float>.alignment == 0 else { return nil }
        return UnsafeRawPointer(address).assumingMemoryBound(to: Float.self)
    }

    /// The tensor's values converted to Float32, in the file's (row-major) order.
    public func floats(_ name: String) -> [Float]? {
        guard let info = tensors[name] else { return nil }
        let source = UnsafeRawPointer(base + dataOffset + info.range.lowerBound)
        let count = info.elementCount
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            switch info.dtype {
            case .f32:
                memcpy(buffer.baseAddress!, source, count * 4)
            case .f16:
                for index in 0..<count {
                    let bits = source.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self)
                    buffer[index] = Float(Float16(bitPattern: UInt16(littleEndian: bits)))
                }
            case .bf16:
                for index in 0..<count {
                    let bits = source.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self)
                    buffer[index] = Float(bitPattern: UInt32(UInt16(littleEndian: bits)) << 16)
                }
            }
            initialized = count
        }
    }
}
