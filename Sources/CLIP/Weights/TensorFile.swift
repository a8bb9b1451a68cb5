import Compute
import FileAccess
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A checkpoint opened through mmap — a `.safetensors` file, or a PyTorch
/// `.bin` (`torch.save`'s zip archive) — whose table of tensors is parsed and
/// checked once; tensor data is read from the mapping on demand and never
/// copied as a whole.
///
/// safetensors: 8-byte little-endian header length N, N bytes of JSON
/// `{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}`,
/// then the data, offsets relative to byte 8 + N.
///
/// PyTorch: a zip archive (entries stored, not compressed) holding
/// `<folder>/data.pkl`, the pickled state_dict, and `<folder>/data/<key>`,
/// one file per storage; see `RestrictedUnpickler`, which reads the pickle
/// without running it.
///
public final class TensorFile: Sendable {
    /// Element types of the two formats (safetensors' names). Only the
    /// floating ones can be read as weights; the others (a position_ids
    /// buffer, say) are listed so that a checkpoint holding them still opens.
    public enum DType: String, Sendable {
        case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
        case f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"
        case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8"
        case u64 = "U64", u32 = "U32", u16 = "U16", u8 = "U8", bool = "BOOL"

        var size: Int {
            switch self {
            case .f64, .i64, .u64: return 8
            case .f32, .i32, .u32: return 4
            case .f16, .bf16, .i16, .u16: return 2
            case .f8e4m3, .f8e5m2, .i8, .u8, .bool: return 1
            }
        }

        /// Whether its values can be read as Float32 weights.
        public var isReadable: Bool { self == .f32 || self == .f16 || self == .bf16 }

        /// torch's storage type names.
        init?(storage: String) {
            switch storage {
            case "FloatStorage": self = .f32
            case "HalfStorage": self = .f16
            case "BFloat16Storage": self = .bf16
            case "DoubleStorage": self = .f64
            case "LongStorage": self = .i64
            case "IntStorage": self = .i32
            case "ShortStorage": self = .i16
            case "CharStorage": self = .i8
            case "ByteStorage": self = .u8
            case "BoolStorage": self = .bool
            default: return nil
            }
        }
    }

    public struct TensorInfo: Sendable, Equatable {
        public let dtype: DType
        public let shape: [Int]
        /// Byte range inside the data section.
        let range: Range<Int>

        public var elementCount: Int { shape.reduce(1, *) }
    }

    /// The two formats it reads.
    public enum Format: String, Sendable {
        case safetensors
        case pytorch
    }

    public let path: String
    public let format: Format
    public let tensors: [String: TensorInfo]
    public let metadata: [String: String]

    /// The whole file, mapped read-only.
    private let mapping: MappedFile
    private let dataOffset: Int
    private var base: UnsafeMutableRawPointer { UnsafeMutableRawPointer(mutating: mapping.bytes.baseAddress!) }

    /// Largest header accepted (the format's reference reader uses 100 MB).
    static let maximumHeaderSize = 100_000_000

    public init(path: String) throws(CLIPError) {
        self.path = path
        let file: RegularFile
        do {
            file = try RegularFile(path: path)
        } catch .missing {
            throw .missingFile(path: path)
        } catch {
            throw .cannotRead(path: path, reason: error.reason)
        }
        let size = file.size
        guard size >= 8 else {
            if path.hasSuffix(".bin") { throw .invalidPyTorchCheckpoint(path: path, reason: "it is \(size) bytes, too short for a zip archive") }
            throw .truncatedCheckpoint(path: path, reason: "\(size) bytes, shorter than the 8-byte header length")
        }
        do {
            mapping = try MappedFile(file, path: path)
        } catch let .cannotRead(_, reason) {
            throw .cannotRead(path: path, reason: reason)
        } catch {
            throw .cannotRead(path: path, reason: error.localizedDescription)
        }
        // A zip archive starts with a local header ("PK\3\4"); a safetensors
        // header length never has those bytes (it would be ~67 MB of JSON
        // starting with a zip signature). A .bin is PyTorch's either way, so
        // that an old or damaged one is reported as such.
        let bytes = mapping.bytes
        if (bytes[0] == 0x50 && bytes[1] == 0x4B && bytes[2] == 0x03 && bytes[3] == 0x04) || path.hasSuffix(".bin") {
            format = .pytorch
            dataOffset = 0
            metadata = [:]
            tensors = try PyTorchArchive.tensors(in: bytes, path: path)
            return
        }
        format = .safetensors

        do {
            let headerLength = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
            guard headerLength <= UInt64(size - 8) else {
                throw CLIPError.invalidHeader(path: path, reason: "header length \(headerLength) runs past the end of the \(size)-byte file")
            }
            guard headerLength <= UInt64(Self.maximumHeaderSize) else {
                throw CLIPError.invalidHeader(path: path, reason: "header length \(headerLength) is over the 100 MB limit")
            }
            dataOffset = 8 + Int(headerLength)
            let header = Data(bytes: bytes.baseAddress! + 8, count: Int(headerLength))
            (tensors, metadata) = try Self.parseHeader(header, path: path, dataSize: size - dataOffset)
        } catch let error as CLIPError {
            throw error
        } catch {
            throw .invalidHeader(path: path, reason: "\(error)")
        }
    }

    /// The header as written: one entry per tensor, plus `__metadata__`
    /// (string → string, free-form; anything else there is ignored).
    private struct Header: Decodable {
        struct Entry: Decodable {
            let dtype: String
            let shape: [Int]
            let dataOffsets: [Int]

            enum CodingKeys: String, CodingKey {
                case dtype, shape, dataOffsets = "data_offsets"
            }
        }

        struct Name: CodingKey {
            let stringValue: String
            var intValue: Int? { nil }
            init?(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]

        init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: Name.self)
            for name in container.allKeys {
                if name.stringValue == "__metadata__" {
                    metadata = (try? container.decode([String: String].self, forKey: name)) ?? [:]
                } else {
                    entries[name.stringValue] = try container.decode(Entry.self, forKey: name)
                }
            }
        }
    }

    private static func parseHeader(_ data: Data, path: String, dataSize: Int) throws(CLIPError)
        -> ([String: TensorInfo], [String: String]) {
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: data)
        } catch let DecodingError.dataCorrupted(context) where context.codingPath.isEmpty {
            throw .invalidHeader(path: path, reason: "header: " + JSONFile.describe(.dataCorrupted(context), in: data, decoding: Header.self))
        } catch let DecodingError.typeMismatch(_, context) where context.codingPath.isEmpty {
            throw .invalidHeader(path: path, reason: "header is not a JSON object")
        } catch let DecodingError.keyNotFound(_, context) {
            throw .invalidHeader(path: path, reason: "entry \(context.codingPath.first?.stringValue ?? "") lacks dtype, shape or data_offsets")
        } catch let error as DecodingError {
            throw .invalidHeader(path: path, reason: JSONFile.describe(error, in: data, decoding: Header.self))
        } catch {
            throw .invalidHeader(path: path, reason: "\(error)")
        }
        var tensors: [String: TensorInfo] = [:]
        for (name, entry) in header.entries {
            guard let dtype = DType(rawValue: entry.dtype) else {
                throw .unknownDType(path: path, tensor: name, dtype: entry.dtype)
            }
            guard entry.shape.allSatisfy({ $0 >= 0 }) else {
                throw .invalidHeader(path: path, reason: "entry \(name) has an invalid shape \(entry.shape)")
            }
            guard entry.dataOffsets.count == 2, entry.dataOffsets[0] >= 0, entry.dataOffsets[1] >= entry.dataOffsets[0] else {
                throw .invalidHeader(path: path, reason: "entry \(name) has invalid data_offsets \(entry.dataOffsets)")
            }
            let (begin, end) = (entry.dataOffsets[0], entry.dataOffsets[1])
            guard end <= dataSize else {
                throw .tensorOutOfBounds(path: path, tensor: name, reason: "data ends at byte \(end), past the \(dataSize)-byte data section")
            }
            var count = 1
            for dimension in entry.shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
                guard !overflow else { throw .invalidHeader(path: path, reason: "entry \(name) has an absurd shape \(entry.shape)") }
                count = product
            }
            let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.size)
            guard !overflow, bytes == end - begin else {
                throw .tensorOutOfBounds(path: path, tensor: name, reason: "has \(end - begin) bytes of data, but shape \(entry.shape) of \(dtype.rawValue) needs \(overflow ? "more than \(Int.max)" : "\(bytes)")")
            }
            tensors[name] = TensorInfo(dtype: dtype, shape: entry.shape, range: begin..<end)
        }
        // As the reference reader checks (safetensors' `validate`): the
        // tensors' bytes follow one another from the start of the data to its
        // end. An overlap, or a gap (where a name given twice in the JSON had
        // its data), is a file no writer makes.
        var next = 0
        for (name, info) in tensors.sorted(by: { ($0.value.range.lowerBound, $0.value.range.upperBound) < ($1.value.range.lowerBound, $1.value.range.upperBound) }) {
            guard info.range.lowerBound == next else {
                throw .invalidHeader(path: path, reason: info.range.lowerBound < next
                    ? "tensor \(name)'s data overlaps another's" : "bytes \(next)..<\(info.range.lowerBound) of the data are no tensor's (a name given twice?)")
            }
            next = info.range.upperBound
        }
        guard next == dataSize else {
            throw .invalidHeader(path: path, reason: "bytes \(next)..<\(dataSize) of the data are no tensor's")
        }
        return (tensors, header.metadata)
    }

    /// Calls `body` with the tensor's values as Float32, in the file's
    /// (row-major) order: a view of the mapped file for aligned F32 data (no
    /// copy), a converted temporary buffer otherwise.
    public func withFloats<Result>(_ name: String, _ body: (UnsafeBufferPointer<Float>) throws -> Result) rethrows -> Result? {
        guard let info = tensors[name], info.dtype.isReadable else { return nil }
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

    /// The tensor's bytes inside the mapping and their type, for F32, F16 and
    /// BF16 tensors (valid as long as this file object lives; possibly
    /// unaligned).
    func mappedBytes(_ name: String) -> (UnsafeRawPointer, DType)? {
        guard let info = tensors[name], info.dtype.isReadable else { return nil }
        return (UnsafeRawPointer(base + dataOffset + info.range.lowerBound), info.dtype)
    }

    /// "xxh64:" and 16 hex digits over the whole file, as an index records
    /// its model's weights (read in chunks, not through the mapping, which
    /// would keep every page resident); nil when it cannot be read.
    func checksum() -> String? {
        (try? ContentHash.xxh64(contentsOf: path)).map { "xxh64:" + ContentHash.hex($0) }
    }

    /// Drops the tensor's pages from this process's memory (they stay in the
    /// page cache, and are read again if the tensor is used again): the
    /// whole pages inside its byte range.
    func release(_ name: String) {
        guard let info = tensors[name] else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = dataOffset + info.range.lowerBound, end = dataOffset + info.range.upperBound
        let first = (start + page - 1) / page * page, last = end / page * page
        guard last > first else { return }
        _ = madvise(base + first, last - first, MADV_DONTNEED)
    }

    /// The tensor's values converted to Float32, in the file's (row-major)
    /// order; nil when it is absent or not of a floating type it reads.
    public func floats(_ name: String) -> [Float]? {
        guard let info = tensors[name], info.dtype.isReadable else { return nil }
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
            default:
                preconditionFailure("isReadable admits only F32, F16 and BF16")
            }
            initialized = count
        }
    }
}
