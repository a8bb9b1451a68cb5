import Compute
import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#endif

/// The index's vectors as two contiguous quantised matrices with a scale per
/// row, memory-mapped from `<index>.vectors`: a 4-bit one that every search
/// scans whole, and an 8-bit one that refines the 4-bit pass's candidates. SQLite stays the source of truth: the file records the
/// model and the highest embedding id it holds, rows added since are read from
/// SQLite (exact), and candidates are rescored from SQLite, so a deleted or
/// re-embedded photo never shows a stale vector.
///
/// 8-bit: v is stored as u = round(v / s8) + 127 with s8 = max |v| / 127, so
/// u lies in [0, 254] and v ≈ s8 · (u − 127). 4-bit: u = round(v / s4) + 8 with
/// s4 = max |v| / 7, in [1, 15], two per byte in blocks of 64 dimensions (byte
/// j of a block: dimension j low, j + 32 high; see Kernels.dotU4), the dimension
/// padded to a multiple of 64 with zeros (u = 8).
///
/// Layout (little-endian): 128-byte header — "PSVECU8\0", version u32 (2),
/// dimension u32, rows u64, highest embedding id i64, model checksum (64 bytes,
/// zero-padded) — then rows × photo id (i64), rows × s8 (f32), rows × s4 (f32),
/// padding to 64 bytes, rows × dimension bytes (8-bit), rows × padded
/// dimension / 2 bytes (4-bit).
///
/// Unchecked Sendable: the pointers lead into a read-only mapping that lives
/// exactly as long as the object and never changes (a new file replaces this
/// one by rename; the mapping keeps the old inode).
final class VectorMatrix: @unchecked Sendable {
    let path: String
    let dimension: Int
    let rows: Int
    /// Embeddings with a higher id were added after the file was written.
    let highestEmbeddingID: Int64
    let modelChecksum: String

    private let mapping: UnsafeMutableRawPointer?
    private let mappedSize: Int
    let photoIDs: UnsafePointer<Int64>
    let scales: UnsafePointer<Float>
    let vectors: UnsafePointer<UInt8>
    let scales4: UnsafePointer<Float>
    let vectors4: UnsafePointer<UInt8>

    static let magic = Array("PSVECU8\0".utf8)
    static let version: UInt32 = 2
    static let headerSize = 128

    static func vectorsOffset(rows: Int) -> Int {
        (headerSize + rows * 16 + 63) / 64 * 64
    }

    /// The dimension of the 4-bit rows: padded to whole 64-dimension blocks.
    static func paddedDimension(_ dimension: Int) -> Int { (dimension + 63) / 64 * 64 }

    static func fileSize(rows: Int, dimension: Int) -> Int {
        vectorsOffset(rows: rows) + rows * dimension + rows * paddedDimension(dimension) / 2
    }

    /// Opens the file; nil when it is missing, damaged or for another model
    /// or dimension (the caller rebuilds it).
    init?(path: String, modelChecksum: String, dimension: Int) {
        self.path = path
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, Int(status.st_size) >= Self.headerSize else { return nil }
        let size = Int(status.st_size)
        guard let base = mmap(nil, size, PROT_READ, MAP_SHARED, descriptor, 0), base != MAP_FAILED else { return nil }
        let header = UnsafeRawBufferPointer(start: base, count: Self.headerSize)
        let rows = Int(header.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        let storedChecksum = String(decoding: header[32..<96].prefix { $0 != 0 }, as: UTF8.self)
        guard Array(header[0..<8]) == Self.magic,
              header.loadUnaligned(fromByteOffset: 8, as: UInt32.self) == Self.version,
              Int(header.loadUnaligned(fromByteOffset: 12, as: UInt32.self)) == dimension,
              rows >= 0, rows < 1 << 40,
              size == Self.fileSize(rows: rows, dimension: dimension),
              storedChecksum == modelChecksum else {
            munmap(base, size)
            return nil
        }
        mapping = base
        mappedSize = size
        self.dimension = dimension
        self.rows = rows
        self.modelChecksum = modelChecksum
        highestEmbeddingID = header.loadUnaligned(fromByteOffset: 24, as: Int64.self)
        photoIDs = UnsafePointer(base.advanced(by: Self.headerSize).assumingMemoryBound(to: Int64.self))
        scales = UnsafePointer(base.advanced(by: Self.headerSize + rows * 8).assumingMemoryBound(to: Float.self))
        scales4 = UnsafePointer(base.advanced(by: Self.headerSize + rows * 12).assumingMemoryBound(to: Float.self))
        vectors = UnsafePointer(base.advanced(by: Self.vectorsOffset(rows: rows)).assumingMemoryBound(to: UInt8.self))
        vectors4 = UnsafePointer(base.advanced(by: Self.vectorsOffset(rows: rows) + rows * dimension).assumingMemoryBound(to: UInt8.self))
        _ = madvise(base, size, MADV_WILLNEED)
    }

    deinit {
        if let mapping { munmap(mapping, mappedSize) }
    }

    /// Writes `<index>.vectors` from every embedding of `modelID` (streamed,
    /// so memory stays at one row), atomically replacing an older file.
    static func build(database: IndexDatabase, model: ModelRecord, to path: String) throws(PhotoIndexError) {
        let dimension = model.embeddingSize
        let temporary = path + ".\(getpid())-\(UInt32.random(in: 0...UInt32.max)).tmp"
        defer { unlink(temporary) }
        try database.read { db in
            let rows = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM embeddings WHERE model_id = ?", arguments: [model.id]) ?? 0
            let highest = try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM embeddings WHERE model_id = ?", arguments: [model.id]) ?? 0
            guard let file = fopen(temporary, "wb") else {
                throw PhotoIndexError.databaseUnavailable(path: path, reason: String(cString: strerror(errno)))
            }
            defer { fclose(file) }
            var ids = [Int64](), scales = [Float](), scales4 = [Float](), quantised = [Int8](repeating: 0, count: dimension)
            var stored = [UInt8](repeating: 0, count: dimension)
            let padded = paddedDimension(dimension)
            var quantised4 = [Int8](repeating: 0, count: dimension)
            var nibbles = [UInt8](repeating: 0, count: padded / 2)
            ids.reserveCapacity(rows)
            scales.reserveCapacity(rows)
            // Vectors go straight to a second temporary file, then are appended.
            let body = temporary + ".body"
            defer { unlink(body) }
            guard let bodyFile = fopen(body, "wb+") else {
                throw PhotoIndexError.databaseUnavailable(path: path, reason: String(cString: strerror(errno)))
            }
            defer { fclose(bodyFile) }
            let body4 = temporary + ".body4"
            defer { unlink(body4) }
            guard let body4File = fopen(body4, "wb+") else {
                throw PhotoIndexError.databaseUnavailable(path: path, reason: String(cString: strerror(errno)))
            }
            defer { fclose(body4File) }
            let cursor = try Row.fetchCursor(db, sql: "SELECT photo_id, vector FROM embeddings WHERE model_id = ? ORDER BY id",
                                             arguments: [model.id])
            while let row = try cursor.next() {
                let vector = VectorBlob.vector(row["vector"])
                // A row of another size or with NaN/∞ (written by an older
                // version, or damaged) is left out rather than trusted.
                guard vector.count == dimension, vector.allSatisfy(\.isFinite) else { continue }
                let scale = vector.withUnsafeBufferPointer { source in
                    quantised.withUnsafeMutableBufferPointer { VectorMath.quantize(source, limit: 127, into: $0.baseAddress!) }
                }
                for index in 0..<dimension { stored[index] = UInt8(Int(quantised[index]) + 127) }
                let scale4 = vector.withUnsafeBufferPointer { source in
                    quantised4.withUnsafeMutableBufferPointer { VectorMath.quantize(source, limit: 7, into: $0.baseAddress!) }
                }
                for block in 0..<(padded / 64) {
                    for j in 0..<32 {
                        let low = block * 64 + j, high = low + 32
                        let lowValue = low < dimension ? Int(quantised4[low]) + 8 : 8
                        let highValue = high < dimension ? Int(quantised4[high]) + 8 : 8
                        nibbles[block * 32 + j] = UInt8(lowValue | highValue << 4)
                    }
                }
                ids.append(row["photo_id"])
                scales.append(scale)
                scales4.append(scale4)
                guard stored.withUnsafeBytes({ fwrite($0.baseAddress, 1, dimension, bodyFile) }) == dimension,
                      nibbles.withUnsafeBytes({ fwrite($0.baseAddress, 1, padded / 2, body4File) }) == padded / 2 else {
                    throw PhotoIndexError.diskFull(path: path)
                }
            }
            var header = [UInt8](repeating: 0, count: headerSize)
            header.replaceSubrange(0..<8, with: magic)
            withUnsafeBytes(of: version.littleEndian) { header.replaceSubrange(8..<12, with: $0) }
            withUnsafeBytes(of: UInt32(dimension).littleEndian) { header.replaceSubrange(12..<16, with: $0) }
            withUnsafeBytes(of: UInt64(ids.count).littleEndian) { header.replaceSubrange(16..<24, with: $0) }
            withUnsafeBytes(of: highest.littleEndian) { header.replaceSubrange(24..<32, with: $0) }
            let checksum = Array(model.checksum.utf8.prefix(64))
            header.replaceSubrange(32..<(32 + checksum.count), with: checksum)
            var ok = fwrite(header, 1, headerSize, file) == headerSize
            ok = ok && ids.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) } == ids.count * 8
            ok = ok && scales.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) } == scales.count * 4
            ok = ok && scales4.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) } == scales4.count * 4
            let padding = vectorsOffset(rows: ids.count) - headerSize - ids.count * 16
            ok = ok && fwrite([UInt8](repeating: 0, count: padding), 1, padding, file) == padding
            var chunk = [UInt8](repeating: 0, count: 1 << 20)
            for body in [bodyFile, body4File] {
                rewind(body)
                while ok {
                    let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, body) }
                    if count == 0 { break }
                    ok = chunk.withUnsafeBytes { fwrite($0.baseAddress, 1, count, file) } == count
                }
            }
            guard ok, fflush(file) == 0 else { throw PhotoIndexError.diskFull(path: path) }
        }
        guard rename(temporary, path) == 0 else {
            throw .databaseUnavailable(path: path, reason: String(cString: strerror(errno)))
        }
    }

    /// The file next to the index.
    static func path(forIndex indexPath: String) -> String { indexPath + ".vectors" }
}
