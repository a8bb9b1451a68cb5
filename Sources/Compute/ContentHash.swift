/// XXH64 (Yann Collet's xxHash, 64-bit variant, seed 0), written from the
/// algorithm's specification; about 20 GB/s. It identifies content: a
/// photo's (with its size), so that a moved or copied file keeps its
/// embedding without being decoded again; a model's weights; and the parts of
/// the files photosearch derives and checks before trusting (the vector
/// file, prepared weights). Not a cryptographic hash: a collision costs at
/// most a wrong embedding for a deliberately crafted file.
public enum ContentHash {
    private static let prime1: UInt64 = 0x9E37_79B1_85EB_CA87
    private static let prime2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    private static let prime3: UInt64 = 0x1656_67B1_9E37_79F9
    private static let prime4: UInt64 = 0x85EB_CA77_C2B2_AE63
    private static let prime5: UInt64 = 0x27D4_EB2F_1656_67C5

    @inline(__always) private static func rotate(_ value: UInt64, _ bits: UInt64) -> UInt64 {
        (value << bits) | (value >> (64 - bits))
    }

    @inline(__always) private static func round(_ accumulator: UInt64, _ input: UInt64) -> UInt64 {
        rotate(accumulator &+ input &* prime2, 31) &* prime1
    }

    @inline(__always) private static func merge(_ hash: UInt64, _ accumulator: UInt64) -> UInt64 {
        (hash ^ round(0, accumulator)) &* prime1 &+ prime4
    }

    public static func xxh64(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let count = bytes.count
        var offset = 0
        var hash: UInt64
        @inline(__always) func load64(_ at: Int) -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        @inline(__always) func load32(_ at: Int) -> UInt64 { UInt64(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self))) }

        if count >= 32 {
            var v1 = prime1 &+ prime2, v2 = prime2, v3: UInt64 = 0, v4 = 0 &- prime1
            while offset + 32 <= count {
                v1 = round(v1, load64(offset))
                v2 = round(v2, load64(offset + 8))
                v3 = round(v3, load64(offset + 16))
                v4 = round(v4, load64(offset + 24))
                offset += 32
            }
            hash = rotate(v1, 1) &+ rotate(v2, 7) &+ rotate(v3, 12) &+ rotate(v4, 18)
            hash = merge(merge(merge(merge(hash, v1), v2), v3), v4)
        } else {
            hash = prime5
        }
        hash &+= UInt64(count)
        while offset + 8 <= count {
            hash = rotate(hash ^ round(0, load64(offset)), 27) &* prime1 &+ prime4
            offset += 8
        }
        if offset + 4 <= count {
            hash = rotate(hash ^ (load32(offset) &* prime1), 23) &* prime2 &+ prime3
            offset += 4
        }
        while offset < count {
            hash = rotate(hash ^ (UInt64(bytes[offset]) &* prime5), 11) &* prime1
            offset += 1
        }
        hash ^= hash >> 33
        hash &*= prime2
        hash ^= hash >> 29
        hash &*= prime3
        hash ^= hash >> 32
        return hash
    }

    /// A checksum of large buffers that every core helps compute: the XXH64
    /// of the little-endian XXH64s of its consecutive 1 MiB blocks (the last
    /// one shorter). Used where a file is checked each time it is opened.
    public static func blockwise(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let block = 1 << 20
        let blocks = max(1, (bytes.count + block - 1) / block)
        var hashes = [UInt64](repeating: 0, count: blocks)
        hashes.withUnsafeMutableBufferPointer { hashes in
            let target = SendableMutablePointer(hashes.baseAddress!)
            let source = SendablePointer(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafePointer(bitPattern: 1)!)
            let count = bytes.count
            let parts = min(blocks, Parallel.cores)
            Parallel.run(parts) { part in
                for index in stride(from: part, to: blocks, by: parts) {
                    let start = index * block
                    let length = min(block, count - start)
                    target.pointer[index] = xxh64(UnsafeRawBufferPointer(start: length > 0 ? source.pointer + start : nil, count: max(length, 0))).littleEndian
                }
            }
        }
        return hashes.withUnsafeBytes { xxh64($0) }
    }

    public static func xxh64(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { xxh64($0) }
    }

    /// The hash as 16 lower-case hex digits.
    public static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
