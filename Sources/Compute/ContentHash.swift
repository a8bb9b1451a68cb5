import FileAccess
#if canImport(Glibc)
import Glibc
#endif

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
        var stream = Stream()
        stream.update(bytes)
        return stream.finish()
    }

    /// XXH64 over bytes that arrive in pieces (a file read in chunks): the
    /// same value as `xxh64` of all of them at once.
    public struct Stream {
        private var v1 = prime1 &+ prime2, v2 = prime2, v3: UInt64 = 0, v4 = 0 &- prime1
        private var total = 0
        /// Bytes of an unfinished 32-byte stripe.
        private var pending = [UInt8]()

        public init() {
            pending.reserveCapacity(32)
        }

        public mutating func update(_ bytes: UnsafeRawBufferPointer) {
            total += bytes.count
            var offset = 0
            if !pending.isEmpty {
                let taken = min(32 - pending.count, bytes.count)
                pending += bytes[0..<taken]
                offset = taken
                guard pending.count == 32 else { return }
                pending.withUnsafeBytes { stripes($0, upTo: 32) }
                pending.removeAll(keepingCapacity: true)
            }
            let whole = (bytes.count - offset) / 32 * 32
            if whole > 0 { stripes(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + whole)]), upTo: whole) }
            pending += bytes[(offset + whole)...]
        }

        private mutating func stripes(_ bytes: UnsafeRawBufferPointer, upTo end: Int) {
            var (a, b, c, d) = (v1, v2, v3, v4)
            var offset = 0
            while offset + 32 <= end {
                a = round(a, UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
                b = round(b, UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self)))
                c = round(c, UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 16, as: UInt64.self)))
                d = round(d, UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 24, as: UInt64.self)))
                offset += 32
            }
            (v1, v2, v3, v4) = (a, b, c, d)
        }

        public func finish() -> UInt64 {
            var hash: UInt64
            if total >= 32 {
                hash = rotate(v1, 1) &+ rotate(v2, 7) &+ rotate(v3, 12) &+ rotate(v4, 18)
                hash = merge(merge(merge(merge(hash, v1), v2), v3), v4)
            } else {
                hash = prime5
            }
            hash &+= UInt64(total)
            pending.withUnsafeBytes { tail in
                var offset = 0
                while offset + 8 <= tail.count {
                    let lane = UInt64(littleEndian: tail.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                    hash = rotate(hash ^ round(0, lane), 27) &* prime1 &+ prime4
                    offset += 8
                }
                if offset + 4 <= tail.count {
                    let lane = UInt64(UInt32(littleEndian: tail.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
                    hash = rotate(hash ^ (lane &* prime1), 23) &* prime2 &+ prime3
                    offset += 4
                }
                while offset < tail.count {
                    hash = rotate(hash ^ (UInt64(tail[offset]) &* prime5), 11) &* prime1
                    offset += 1
                }
            }
            hash ^= hash >> 33
            hash &*= prime2
            hash ^= hash >> 29
            hash &*= prime3
            hash ^= hash >> 32
            return hash
        }
    }

    /// XXH64 of the file at `path`, read 8 MiB at a time: a 600 MB
    /// checkpoint is hashed without being held in memory (mapping it whole
    /// would add all of it to the process's resident size).
    public static func xxh64(contentsOf path: String) throws(ComputeError) -> UInt64 {
        var stream = Stream()
        do {
            try RegularFile(path: path).forEachChunk { stream.update($0) }
        } catch {
            throw .cannotRead(path: path, reason: error.reason)
        }
        return stream.finish()
    }

    /// A checksum of large buffers that every core helps compute: the XXH64
    /// of the little-endian XXH64s of its consecutive 1 MiB blocks (the last
    /// one shorter). Used where a file is checked each time it is opened.
    public static func blockwise(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        combined(blockHashes(bytes))
    }

    /// The bytes a `blockHashes` block covers: a part of a larger buffer
    /// hashed on its own must start at a multiple of it.
    public static let hashBlock = 1 << 20

    /// The hashes of each `hashBlock` bytes (the last block may be shorter),
    /// on every core: `blockwise` of a large file can be computed a part at
    /// a time, so that the whole never needs to be mapped in at once.
    public static func blockHashes(_ bytes: UnsafeRawBufferPointer) -> [UInt64] {
        let block = hashBlock
        let blocks = max(1, (bytes.count + block - 1) / block)
        var hashes = [UInt64](repeating: 0, count: blocks)
        hashes.withUnsafeMutableBufferPointer { hashes in
            let target = SendableMutablePointer(hashes.baseAddress!)
            let source = SendablePointer(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafePointer(bitPattern: 1)!)
            let count = bytes.count
            // Every block is read from memory once: always worth the cores.
            Parallel.run(Parallel.ranges(of: blocks, work: count, minimumWork: 0)) { _, range in
                for index in range {
                    let start = index * block
                    let length = min(block, count - start)
                    target.pointer[index] = xxh64(UnsafeRawBufferPointer(start: length > 0 ? source.pointer + start : nil, count: max(length, 0))).littleEndian
                }
            }
        }
        return hashes
    }

    /// `blockwise`'s result from the block hashes of all the bytes, in order.
    public static func combined(_ blockHashes: [UInt64]) -> UInt64 {
        blockHashes.withUnsafeBytes { xxh64($0) }
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
