/// The central directory of a zip archive held in memory (a mapped file):
/// where each stored (uncompressed) entry's bytes are. Enough for PyTorch's
/// checkpoint archives, which `torch.save` writes uncompressed, with ZIP64
/// records past 4 GiB; compressed entries are listed but cannot be read in
/// place.
///
/// Every offset and length is checked against the archive's size before
/// use: a truncated or hostile archive gives an error, never a read out of
/// bounds.
struct ZipDirectory {
    struct Entry {
        let name: String
        /// Byte range of the entry's data inside the archive.
        let data: Range<Int>
        let isStored: Bool
    }

    let entries: [String: Entry]

    enum Problem: Error, CustomStringConvertible {
        case notZip
        case damaged(String)

        var description: String {
            switch self {
            case .notZip: return "it is not a zip archive (PyTorch before 1.6 wrote another format: load and save it again with a newer PyTorch, or convert it to safetensors)"
            case let .damaged(reason): return reason
            }
        }
    }

    /// Parses the archive in `bytes` (little-endian records).
    init(_ bytes: UnsafeRawBufferPointer) throws(Problem) {
        let size = bytes.count
        func u16(_ offset: Int) -> Int { Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 }
        func u32(_ offset: Int) -> Int { u16(offset) | u16(offset + 2) << 16 }
        func u64(_ offset: Int) -> UInt64 { UInt64(u32(offset)) | UInt64(u32(offset + 4)) << 32 }
        func int(_ value: UInt64, _ what: String) throws(Problem) -> Int {
            guard value <= UInt64(size) else { throw .damaged("\(what) \(value) lies past the end of the \(size)-byte file") }
            return Int(value)
        }
        guard size >= 4, u32(0) == 0x0403_4B50 || u32(0) == 0x0605_4B50 else { throw .notZip }
        // The end-of-central-directory record: 22 bytes plus a comment of up
        // to 65 535, so it starts in the last 65 557 bytes.
        guard size >= 22 else { throw .damaged("the archive is truncated: no end-of-directory record") }
        var end = -1
        var candidate = size - 22
        while candidate >= max(0, size - 65_557) {
            if u32(candidate) == 0x0605_4B50, candidate + 22 + u16(candidate + 20) == size {
                end = candidate
                break
            }
            candidate -= 1
        }
        guard end >= 0 else { throw .damaged("the archive is truncated: no end-of-directory record") }
        var count = u16(end + 10)
        var directorySize = UInt64(u32(end + 12))
        var directoryOffset = UInt64(u32(end + 16))
        // ZIP64: a locator right before the record points at a larger record.
        if end >= 20, u32(end - 20) == 0x0706_4B50 {
            let record = try int(u64(end - 12), "the ZIP64 record offset")
            guard record + 56 <= size, u32(record) == 0x0606_4B50 else { throw .damaged("the ZIP64 end-of-directory record is missing") }
            let entries64 = u64(record + 32)
            guard entries64 <= UInt64(size / 46) else { throw .damaged("it claims \(entries64) entries") }
            count = Int(entries64)
            directorySize = u64(record + 40)
            directoryOffset = u64(record + 48)
        }
        let start = try int(directoryOffset, "the central directory offset")
        let length = try int(directorySize, "the central directory size")
        guard start + length <= size else { throw .damaged("the central directory runs past the end of the file") }

        var entries: [String: Entry] = [:]
        var offset = start
        for _ in 0..<count {
            guard offset + 46 <= start + length, u32(offset) == 0x0201_4B50 else {
                throw .damaged("the central directory is damaged")
            }
            let method = u16(offset + 10)
            var compressed = UInt64(u32(offset + 20)), uncompressed = UInt64(u32(offset + 24))
            let nameLength = u16(offset + 28), extraLength = u16(offset + 30), commentLength = u16(offset + 32)
            var localOffset = UInt64(u32(offset + 42))
            let nameStart = offset + 46
            let next = nameStart + nameLength + extraLength + commentLength
            guard next <= start + length else { throw .damaged("the central directory is damaged") }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[nameStart..<(nameStart + nameLength)]), as: UTF8.self)
            // ZIP64 extra field: the 8-byte values whose 32-bit fields are all ones, in order.
            var extra = nameStart + nameLength
            while extra + 4 <= nameStart + nameLength + extraLength {
                let id = u16(extra), fieldLength = u16(extra + 2)
                var field = extra + 4
                let fieldEnd = field + fieldLength
                guard fieldEnd <= nameStart + nameLength + extraLength else { break }
                if id == 0x0001 {
                    if uncompressed == 0xFFFF_FFFF, field + 8 <= fieldEnd { uncompressed = u64(field); field += 8 }
                    if compressed == 0xFFFF_FFFF, field + 8 <= fieldEnd { compressed = u64(field); field += 8 }
                    if localOffset == 0xFFFF_FFFF, field + 8 <= fieldEnd { localOffset = u64(field) }
                }
                extra = fieldEnd
            }
            let local = try int(localOffset, "entry \(name)'s offset")
            guard local + 30 <= size, u32(local) == 0x0403_4B50 else { throw .damaged("entry \(name) has no local header") }
            let dataStart = local + 30 + u16(local + 26) + u16(local + 28)
            let dataLength = try int(compressed, "entry \(name)'s size")
            guard dataStart <= size, dataLength <= size - dataStart else {
                throw .damaged("entry \(name) runs past the end of the file (truncated?)")
            }
            entries[name] = Entry(name: name, data: dataStart..<(dataStart + dataLength),
                                  isStored: method == 0 && compressed == uncompressed)
            offset = next
        }
        self.entries = entries
    }
}
