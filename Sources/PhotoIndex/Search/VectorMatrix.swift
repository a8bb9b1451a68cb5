import Compute
import FileAccess
import Foundation
import GRDB
import Imaging
#if canImport(Glibc)
import Glibc
#endif

/// The index's vectors as two contiguous matrices: a 4-bit one (a scale per
/// row) that searches scan, and the float16 vectors themselves, byte for byte
/// as SQLite holds them, that score the 4-bit pass's candidates exactly.
/// Kept in `<index>.vectors` and memory-mapped, or in memory when that file
/// cannot be written (a read-only folder, a full disk). SQLite stays the
/// source of truth: the matrix records the model and the highest embedding
/// id it holds, rows added since are read from SQLite, and a candidate counts
/// only while SQLite still has its embedding (each row keeps its embedding's
/// id, looked up in the small `(model_id, id)` index, not the table of
/// vectors), so a deleted or re-embedded photo never shows a stale vector.
/// (Until version 6 the file held 8-bit rows, and candidates were rescored
/// from SQLite's table: at ten million photos those lookups, in pages of a
/// 12 GB file, cost more than the scan.)
///
/// 4-bit: u = round(v / s4) + 8 with s4 = max |v| / 7, in [1, 15], two per
/// byte in blocks of 64 dimensions (byte j of a block: dimension j low,
/// j + 32 high; see Kernels.dotU4), the dimension padded to a multiple of 64
/// with zeros (u = 8).
///
/// Large matrices are partitioned (IVF): `Partitioning` gives them cells,
/// each a unit centroid found by spherical k-means, and their rows are
/// stored cell by cell, so that a search scores the centroids and scans only
/// the rows of the cells nearest the query. A rebuild keeps the centroids
/// and each surviving row's cell, and assigns only the rows added since.
///
/// Layout (little-endian): a 128-byte header — "PSVECU8\0", version u32 (7),
/// dimension u32, rows u64, highest embedding id i64, model checksum (64
/// bytes, zero-padded), capacity u64, checksum of everything after the
/// header u64 (`ContentHash.blockwise`), cells u32 (0: not partitioned),
/// 4 bytes of zeros, the index's generation it was built at i64 (offset
/// 120: see `IndexDatabase.recordGeneration`; zero in a file written before
/// generations, which only an index made before them accepts) —
/// then capacity × photo id (i64), capacity × embedding id (i64), capacity ×
/// s4 (f32), (cells + 1) × first row of each cell (u64; the last is `rows`),
/// cells × dimension centroid values (f16), padding to 64 bytes, capacity ×
/// dimension float16 values, capacity × padded dimension / 2 bytes (4-bit);
/// rows ≤ capacity are in use (all of them when
/// partitioned). A file whose header, cell table or checksum does not match
/// is not trusted: it is rebuilt.
///
/// The bytes are a read-only mapping of the file (`MappedFile`), or, when no
/// file can be written, an array of their own; they are never written after
/// `build` returns (a new file replaces the old one by rename, and an old
/// mapping keeps the old inode).
package final class VectorMatrix: Sendable {
    let dimension: Int
    let rows: Int
    /// Embeddings with a higher id were added after the matrix was built.
    let highestEmbeddingID: Int64
    /// The index's generation it was built at (0: an index without them).
    let generation: Int64
    let modelChecksum: String
    /// Whether the matrix lives in a file others can map (false: in memory).
    let isFile: Bool
    /// The partition's cells; 0 when every search scans every row.
    let cellCount: Int

    /// cellCount + 1 row numbers: cell c holds rows cellStarts[c] ..<
    /// cellStarts[c + 1]. Copied out of the file when it was opened, and
    /// checked there, with the header's fields: a file changed under its
    /// mapping (a backup copied over it in place) changes the bytes a
    /// search scans, never where it looks for them.
    let cellStarts: [Int]
    private let storage: ConstantBuffer<UInt8>
    private let layout: Layout
    /// The file's path and status when it was mapped (nil: in memory, or
    /// its status unknown), to tell whether it was changed in place since.
    private let mapped: (path: String, status: stat)?

    /// The matrix's parts, valid inside `withParts`' body.
    struct Parts {
        let photoIDs: UnsafePointer<Int64>
        /// Each row's id in the embeddings table.
        let embeddingIDs: UnsafePointer<Int64>
        /// Each row's float16 vector (little-endian), `dimension` values.
        let halves: UnsafeRawPointer
        let scales4: UnsafePointer<Float>
        let vectors4: UnsafePointer<UInt8>
        /// cellCount × dimension float16 values (little-endian): the cells'
        /// unit centroids (half the bytes a search reads to rank them).
        let centroids: UnsafeRawPointer
    }

    func withParts<Result>(_ body: (Parts) throws -> Result) rethrows -> Result {
        try storage.withUnsafeBufferPointer { bytes in
            let base = UnsafeRawPointer(bytes.baseAddress!)
            return try body(Parts(photoIDs: (base + Self.headerSize).assumingMemoryBound(to: Int64.self),
                                  embeddingIDs: (base + layout.embeddingIDs).assumingMemoryBound(to: Int64.self),
                                  halves: base + layout.halves,
                                  scales4: (base + layout.scales4).assumingMemoryBound(to: Float.self),
                                  vectors4: (base + layout.vectors4).assumingMemoryBound(to: UInt8.self),
                                  centroids: base + layout.centroids))
        }
    }

    /// The rows of the `count` cells whose centroids are most similar to
    /// `query` (a unit vector), and of the next most similar while those
    /// hold fewer than `rows`, in file order. An empty cell is never one of
    /// them: a library of few distinct photos trains cells with the same
    /// centroid, one of which gets the rows, and a probe spent on its empty
    /// twins found nothing (`--probes 2`: "no matching photos").
    func nearestCells(to query: [Float], count: Int, rows wanted: Int = 0) -> [Range<Int>] {
        withParts { parts in
            var dots = [Float](repeating: 0, count: cellCount)
            let cells = (0..<Int64(cellCount)).map { $0 }
            query.withUnsafeBufferPointer { q in
                cells.withUnsafeBufferPointer { Kernels.active.dotHalves(q, halves: parts.centroids, rows: $0, into: &dots) }
            }
            // NaN (a damaged centroid) ranks last.
            let score = { (cell: Int) in dots[cell].isNaN ? -Float.greatestFiniteMagnitude : dots[cell] }
            let filled = (0..<cellCount).filter { cellStarts[$0] < cellStarts[$0 + 1] }
            var best = TopK(capacity: count)
            for cell in filled { best.insert(score(cell), cell) }
            var chosen = best.sorted().map(\.item)
            var found = chosen.reduce(0) { $0 + cellStarts[$1 + 1] - cellStarts[$1] }
            if found < wanted, chosen.count < filled.count {
                let taken = Set(chosen)
                let next = filled.filter { !taken.contains($0) }.sorted { score($0) > score($1) || (score($0) == score($1) && $0 < $1) }
                for cell in next where found < wanted {
                    chosen.append(cell)
                    found += cellStarts[cell + 1] - cellStarts[cell]
                }
            }
            return chosen.sorted().map { cellStarts[$0]..<cellStarts[$0 + 1] }
        }
    }

    static let magic = Array("PSVECU8\0".utf8)
    static let version: UInt32 = 7
    static let headerSize = 128

    /// The dimension of the 4-bit rows: padded to whole 64-dimension blocks.
    static func paddedDimension(_ dimension: Int) -> Int { (dimension + 63) / 64 * 64 }

    /// Byte offsets of the parts for `capacity` rows in `cells` cells.
    private struct Layout: Sendable {
        let embeddingIDs: Int, scales4: Int, cellStarts: Int, centroids: Int, halves: Int, vectors4: Int, size: Int

        init(capacity: Int, dimension: Int, cells: Int) {
            embeddingIDs = headerSize + capacity * 8
            scales4 = embeddingIDs + capacity * 8
            cellStarts = scales4 + capacity * 4
            centroids = cellStarts + (cells == 0 ? 0 : (cells + 1) * 8)
            halves = (centroids + cells * dimension * 2 + 63) / 64 * 64
            vectors4 = halves + capacity * dimension * 2
            size = vectors4 + capacity * paddedDimension(dimension) / 2
        }

        init(header: UnsafeRawBufferPointer, dimension: Int) {
            self.init(capacity: Int(header.loadUnaligned(fromByteOffset: 96, as: UInt64.self)), dimension: dimension,
                      cells: Int(header.loadUnaligned(fromByteOffset: 112, as: UInt32.self)))
        }
    }

    /// What the header of the vector file at `path` says, read without the
    /// rest (for `status`); nil when there is none or it is not one this
    /// version writes.
    static func summary(path: String) -> (rows: Int, cells: Int, highestEmbeddingID: Int64, generation: Int64)? {
        guard let header = try? RegularFile(path: path).prefix(headerSize), header.count == headerSize,
              Array(header[0..<8]) == magic else { return nil }
        return header.withUnsafeBytes { header in
            guard header.loadUnaligned(fromByteOffset: 8, as: UInt32.self) == version else { return nil }
            return (Int(header.loadUnaligned(fromByteOffset: 16, as: UInt64.self)), Int(header.loadUnaligned(fromByteOffset: 112, as: UInt32.self)),
                    header.loadUnaligned(fromByteOffset: 24, as: Int64.self), header.loadUnaligned(fromByteOffset: 120, as: Int64.self))
        }
    }

    /// The file next to the index.
    package static func path(forIndex indexPath: String) -> String { indexPath + ".vectors" }

    /// Over `storage`, whose header and cell table `validated` read.
    private init(storage: ConstantBuffer<UInt8>, isFile: Bool, header: Header, dimension: Int, modelChecksum: String,
                 mapped: (path: String, status: stat)?) {
        self.storage = storage
        self.isFile = isFile
        self.dimension = dimension
        self.modelChecksum = modelChecksum
        self.mapped = mapped
        (rows, highestEmbeddingID, cellCount, layout, generation, cellStarts) =
            (header.rows, header.highestEmbeddingID, max(0, header.cellStarts.count - 1), header.layout,
             header.generation, header.cellStarts)
    }

    /// Whether the file was changed since it was mapped, in place (the
    /// same inode written again: `cp` over it, `rsync --inplace`): its
    /// pages then show the new bytes, and past a shorter file's end a read
    /// is SIGBUS. Replaced by a rename, or deleted, the mapping keeps the
    /// old file, which is safe to read.
    var isChangedInPlace: Bool {
        guard let (path, was) = mapped, let now = FilePaths.status(path) else { return false }
        guard FileIdentity(now) == FileIdentity(was) else { return false }
        return now.st_size != was.st_size || now.st_mtim.tv_sec != was.st_mtim.tv_sec || now.st_mtim.tv_nsec != was.st_mtim.tv_nsec
            || now.st_ctim.tv_sec != was.st_ctim.tv_sec || now.st_ctim.tv_nsec != was.st_ctim.tv_nsec
    }

    /// Maps the file; nil when it is missing, for another model or
    /// dimension, or damaged in any way its header and checksum can tell (the
    /// caller rebuilds it).
    convenience init?(path: String, modelChecksum: String, dimension: Int) {
        // A FIFO or device in its place is refused, never waited on.
        guard let file = try? MappedFile(path: path), file.bytes.count >= Self.headerSize else { return nil }
        self.init(file: file, path: path, modelChecksum: modelChecksum, dimension: dimension, trusted: false, stamp: nil)
    }

    /// Over the mapped `file`. The whole body is checked, unless this very
    /// file was verified in this boot (`VerificationStamp`) or was just
    /// written by this process (`trusted`; `stamp`: its status after the
    /// rename, noted as verified): then only the header and the cell table
    /// are. The body is checked a part at a time, each part's pages released
    /// after it, so that checking a file of ten million rows does not hold
    /// all of it. Then only what searches scan is read in: every row's ids,
    /// scales and 4-bit rows when every search scans them all, the cell
    /// table and centroids of a partitioned matrix (the rows of the cells a
    /// search probes, and the float16 rows of its few hundred candidates,
    /// fault in as used).
    private convenience init?(file: MappedFile, path: String, modelChecksum: String, dimension: Int, trusted: Bool, stamp written: stat?) {
        let bytes = file.bytes
        guard bytes.count >= Self.headerSize else { return nil }
        let base = UnsafeMutableRawPointer(mutating: bytes.baseAddress!)
        let verified = trusted || VerificationStamp.isCurrent(path: path, status: file.status)
        guard let header = Self.validated(bytes, modelChecksum: modelChecksum, dimension: dimension),
              verified || Self.checksumMatches(bytes, base: base) else { return nil }
        let layout = header.layout
        if header.cellStarts.isEmpty {
            PageMapping.populate(base, from: Self.headerSize, to: layout.halves)
            PageMapping.populate(base, from: layout.vectors4, to: layout.size)
        } else {
            PageMapping.populate(base, from: layout.cellStarts, to: layout.halves)
        }
        if let status = written ?? (verified ? nil : file.status) { VerificationStamp.record(path: path, status: status) }
        // Its status as it is on disk now: after the rename when just written
        // (the rename changed its ctime), unknown when the name no longer
        // leads to it.
        let status = trusted ? written : file.status
        self.init(storage: ConstantBuffer(borrowing: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), count: bytes.count, owner: file),
                  isFile: true, header: header, dimension: dimension, modelChecksum: modelChecksum, mapped: status.map { (path, $0) })
    }

    /// What an open reads of the header and the cell table, once.
    private struct Header {
        let rows: Int, highestEmbeddingID: Int64, generation: Int64, layout: Layout
        /// Empty when not partitioned.
        let cellStarts: [Int]
    }

    /// The header's fields and the cell table, read once each (from bytes
    /// that another process may be changing) and checked as read; nil when
    /// they are not a matrix of `dimension` for `modelChecksum` in
    /// `bytes.count` bytes.
    private static func validated(_ bytes: UnsafeRawBufferPointer, modelChecksum: String, dimension: Int) -> Header? {
        guard bytes.count >= headerSize else { return nil }
        let copy = Array(bytes[0..<headerSize])
        return copy.withUnsafeBytes { header -> Header? in
            let rows = header.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
            let capacity = header.loadUnaligned(fromByteOffset: 96, as: UInt64.self)
            let cells = UInt64(header.loadUnaligned(fromByteOffset: 112, as: UInt32.self))
            let storedChecksum = String(decoding: header[32..<96].prefix { $0 != 0 }, as: UTF8.self)
            guard Array(header[0..<8]) == magic,
                  header.loadUnaligned(fromByteOffset: 8, as: UInt32.self) == version,
                  Int(header.loadUnaligned(fromByteOffset: 12, as: UInt32.self)) == dimension,
                  capacity < 1 << 40, rows <= capacity, cells <= capacity, cells == 0 || rows == capacity,
                  storedChecksum == modelChecksum else { return nil }
            let layout = Layout(header: header, dimension: dimension)
            guard bytes.count == layout.size else { return nil }
            // Each cell's rows lie within the matrix, in order, and cover it.
            var starts: [Int] = []
            if cells > 0 {
                starts.reserveCapacity(Int(cells) + 1)
                for cell in 0...Int(cells) {
                    let start = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: layout.cellStarts + cell * 8, as: UInt64.self))
                    guard start >= UInt64(starts.last ?? 0), start <= rows, cell > 0 || start == 0 else { return nil }
                    starts.append(Int(start))
                }
                guard starts.last == Int(rows) else { return nil }
            }
            return Header(rows: Int(rows), highestEmbeddingID: header.loadUnaligned(fromByteOffset: 24, as: Int64.self),
                          generation: header.loadUnaligned(fromByteOffset: 120, as: Int64.self), layout: layout, cellStarts: starts)
        }
    }

    /// Whether the body's checksum is the header's, read a part at a time.
    private static func checksumMatches(_ bytes: UnsafeRawBufferPointer, base: UnsafeMutableRawPointer) -> Bool {
        let part = 256 * ContentHash.hashBlock
        var hashes: [UInt64] = []
        for start in stride(from: headerSize, to: max(bytes.count, headerSize + 1), by: part) {
            let end = min(bytes.count, start + part)
            PageMapping.populate(base, from: start, to: end)
            hashes += ContentHash.blockHashes(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
            PageMapping.release(base, from: start, to: end)
        }
        return bytes.loadUnaligned(fromByteOffset: 104, as: UInt64.self) == ContentHash.combined(hashes)
    }

    // MARK: Building

    /// Builds the matrix from every finite embedding of `model` in one read
    /// transaction: into a new file at `path` (written under a temporary name
    /// and renamed) when it can be, else in memory. Partitioned when
    /// `partitioning` says so for its size, keeping the cells of `previous`
    /// (the matrix it replaces) when it has as many.
    static func build(database: IndexDatabase, model: ModelRecord, path: String, partitioning: Partitioning,
                      previous: VectorMatrix?) throws(PhotoIndexError) -> VectorMatrix {
        let dimension = model.embeddingSize
        removeStaleTemporaryFiles(of: path)
        return try database.read { db -> VectorMatrix in
            // (The state this transaction reads, whose embeddings these are.)
            let generation = try IndexDatabase.generation(db)
            let highest = try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM embeddings WHERE model_id = ?", arguments: [model.id]) ?? 0
            let ids = try Int64.fetchAll(db, sql: "SELECT id FROM embeddings WHERE model_id = ? AND id <= ? ORDER BY id",
                                         arguments: [model.id, highest])
            let cells = partitioning.cells(rows: ids.count)
            let partition = cells == 0 ? nil
                : try CellAssignment(db, model: model, embeddingIDs: ids, cells: cells, previous: previous)
            // Rows in cell order, and the row each embedding goes to.
            var slots: [Int]? = nil, starts: [UInt64] = []
            if let partition {
                var counts = [Int](repeating: 0, count: partition.cells + 1)
                for cell in partition.cellOfRow where cell >= 0 { counts[Int(cell) + 1] += 1 }
                for cell in 0..<partition.cells { counts[cell + 1] += counts[cell] }
                starts = counts.map { UInt64($0) }
                var next = counts
                slots = partition.cellOfRow.map { cell in
                    guard cell >= 0 else { return -1 }
                    defer { next[Int(cell)] += 1 }
                    return next[Int(cell)]
                }
            }
            let cellCount = partition?.cells ?? 0
            let capacity = partition.map { _ in Int(starts[cellCount]) } ?? ids.count
            let layout = Layout(capacity: capacity, dimension: dimension, cells: cellCount)
            let destination = Destination(path: path, size: layout.size)
            let cursor = try Row.fetchCursor(db, sql: "SELECT id, photo_id, vector FROM embeddings WHERE model_id = ? AND id <= ? ORDER BY id",
                                             arguments: [model.id, highest])
            try destination.fill { base throws in
                var rows = 0, index = 0
                let writer = RowWriter(base: base, layout: layout, capacity: capacity, dimension: dimension, cells: max(1, cellCount))
                while let row = try cursor.next(), index < ids.count {
                    // The same rows as `ids`, in the same order (one transaction).
                    let embeddingID: Int64 = row["id"]
                    while index < ids.count && ids[index] < embeddingID { index += 1 }
                    guard index < ids.count, ids[index] == embeddingID else { continue }
                    defer { index += 1 }
                    let blob: Data = row["vector"] ?? Data()
                    let vector = VectorBlob.vector(blob)
                    // A row of another size or with NaN/∞ (written by an older
                    // version, or damaged) is left out rather than trusted.
                    let valid = blob.count == 2 * dimension && vector.allSatisfy(\.isFinite)
                    if let slots, let partition {
                        guard slots[index] >= 0 else { continue }
                        // (A slot whose vector went bad since it was assigned
                        // cannot be: one transaction. Were it so, a zero row
                        // of no photo stands in, which the live check drops.)
                        writer.add(cell: Int(partition.cellOfRow[index]), slot: slots[index], photoID: valid ? row["photo_id"] : 0,
                                   embeddingID: valid ? embeddingID : 0, vector: valid ? vector : [Float](repeating: 0, count: dimension),
                                   halves: valid ? blob : Data(count: 2 * dimension))
                        rows += 1
                    } else if valid, rows < capacity {
                        writer.add(cell: 0, slot: rows, photoID: row["photo_id"], embeddingID: embeddingID, vector: vector, halves: blob)
                        rows += 1
                    }
                }
                writer.finish()
                if let partition {
                    // Every slot was written: the cursor reads the rows
                    // `ids` were read from, in one transaction.
                    precondition(rows == capacity, "a partitioned matrix's rows were not all written")
                    for (cell, start) in starts.enumerated() {
                        base.storeBytes(of: start.littleEndian, toByteOffset: layout.cellStarts + cell * 8, as: UInt64.self)
                    }
                    let centroids = VectorBlob.data(partition.centroids)
                    centroids.withUnsafeBytes { source in
                        UnsafeMutableRawBufferPointer(start: base + layout.centroids, count: source.count).copyMemory(from: source)
                    }
                }
                let header = UnsafeMutableRawBufferPointer(start: base, count: headerSize)
                header.copyBytes(from: magic)
                header.storeBytes(of: version.littleEndian, toByteOffset: 8, as: UInt32.self)
                header.storeBytes(of: UInt32(dimension).littleEndian, toByteOffset: 12, as: UInt32.self)
                header.storeBytes(of: UInt64(rows).littleEndian, toByteOffset: 16, as: UInt64.self)
                header.storeBytes(of: highest.littleEndian, toByteOffset: 24, as: Int64.self)
                let checksum = Array(model.checksum.utf8.prefix(64))
                UnsafeMutableRawBufferPointer(rebasing: header[32..<(32 + checksum.count)]).copyBytes(from: checksum)
                header.storeBytes(of: UInt64(capacity).littleEndian, toByteOffset: 96, as: UInt64.self)
                header.storeBytes(of: UInt32(cellCount).littleEndian, toByteOffset: 112, as: UInt32.self)
                header.storeBytes(of: generation.littleEndian, toByteOffset: 120, as: Int64.self)
                let body = UnsafeRawBufferPointer(start: base + headerSize, count: layout.size - headerSize)
                header.storeBytes(of: ContentHash.blockwise(body).littleEndian, toByteOffset: 104, as: UInt64.self)
            }
            return destination.finish(dimension: dimension, modelChecksum: model.checksum)
        }
    }

    /// Writes the rows of a matrix being built. A partitioned matrix's rows
    /// arrive in embedding order and go to their cells, all over the file:
    /// written a row at a time through the mapping, a page that writeback
    /// cleaned between two of its rows faults again, and at ten million rows
    /// (8 GB, more than the kernel lets stay dirty) nearly every row faulted
    /// on each of its sections. So a cell's rows (whose slots follow one
    /// another in arrival order) wait here, a batch at a time, and go out as
    /// one run per section; the 20 bytes a row of ids and scale are kept in
    /// memory and copied at the end. An unpartitioned matrix is one cell.
    private final class RowWriter {
        let base: UnsafeMutableRawPointer
        let layout: Layout
        let dimension: Int, packed: Int, batch: Int
        let photoIDs: UnsafeMutableBufferPointer<Int64>, embeddingIDs: UnsafeMutableBufferPointer<Int64>
        let scales4: UnsafeMutableBufferPointer<Float>
        /// cells × batch rows of float16 values and of 4-bit codes.
        let halves: UnsafeMutableBufferPointer<UInt8>, codes4: UnsafeMutableBufferPointer<UInt8>
        /// Each cell's first waiting slot, and how many wait.
        var firstSlot: [Int], waiting: [Int]
        var quantised4: [Int8]

        init(base: UnsafeMutableRawPointer, layout: Layout, capacity: Int, dimension: Int, cells: Int) {
            self.base = base
            self.layout = layout
            self.dimension = dimension
            packed = paddedDimension(dimension) / 2
            // At most 64 MB waiting, runs of at least 16 rows.
            batch = max(16, min(1024, (64 << 20) / cells / (2 * dimension + packed)))
            photoIDs = .allocate(capacity: capacity)
            embeddingIDs = .allocate(capacity: capacity)
            scales4 = .allocate(capacity: capacity)
            // Slots no row fills (an unpartitioned matrix's unusable rows) stay zero.
            for buffer in [photoIDs, embeddingIDs] { buffer.initialize(repeating: 0) }
            scales4.initialize(repeating: 0)
            halves = .allocate(capacity: cells * batch * 2 * dimension)
            codes4 = .allocate(capacity: cells * batch * packed)
            firstSlot = [Int](repeating: 0, count: cells)
            waiting = [Int](repeating: 0, count: cells)
            quantised4 = [Int8](repeating: 0, count: dimension)
        }

        deinit {
            for buffer in [photoIDs, embeddingIDs] { buffer.deallocate() }
            scales4.deallocate()
            for buffer in [halves, codes4] { buffer.deallocate() }
        }

        /// `slot`: the one after the cell's last (its first, for a cell's
        /// first row); `halves`: `vector` as stored, 2 × dimension bytes.
        func add(cell: Int, slot: Int, photoID: Int64, embeddingID: Int64, vector: [Float], halves source: Data) {
            if waiting[cell] == 0 { firstSlot[cell] = slot }
            precondition(slot == firstSlot[cell] + waiting[cell], "a cell's rows arrive in slot order")
            precondition(source.count == 2 * dimension, "a row's float16 vector has the matrix's dimension")
            photoIDs[slot] = photoID
            embeddingIDs[slot] = embeddingID
            let (dimension, packed) = (dimension, packed)
            scales4[slot] = vector.withUnsafeBufferPointer { source in
                quantised4.withUnsafeMutableBufferPointer { VectorMath.quantize(source, limit: 7, into: $0.baseAddress!) }
            }
            let position = cell * batch + waiting[cell]
            source.withUnsafeBytes { UnsafeMutableRawPointer(halves.baseAddress! + position * 2 * dimension).copyMemory(from: $0.baseAddress!, byteCount: 2 * dimension) }
            // Two components a byte: those 32 apart in each block of 64 (the
            // scan's layout), padding as zero (8).
            let nibbles = codes4.baseAddress! + position * packed
            for block in 0..<(packed / 32) {
                for j in 0..<32 {
                    let low = block * 64 + j, high = low + 32
                    let lowValue = low < dimension ? Int(quantised4[low]) + 8 : 8
                    let highValue = high < dimension ? Int(quantised4[high]) + 8 : 8
                    nibbles[block * 32 + j] = UInt8(lowValue | highValue << 4)
                }
            }
            waiting[cell] += 1
            if waiting[cell] == batch { flush(cell) }
        }

        private func flush(_ cell: Int) {
            let count = waiting[cell], first = firstSlot[cell]
            guard count > 0 else { return }
            (base + layout.halves + first * 2 * dimension)
                .copyMemory(from: halves.baseAddress! + cell * batch * 2 * dimension, byteCount: count * 2 * dimension)
            (base + layout.vectors4 + first * packed)
                .copyMemory(from: codes4.baseAddress! + cell * batch * packed, byteCount: count * packed)
            waiting[cell] = 0
        }

        /// The waiting rows, and every row's ids and scale.
        func finish() {
            for cell in waiting.indices { flush(cell) }
            let rows = photoIDs.count
            (base + headerSize).copyMemory(from: photoIDs.baseAddress!, byteCount: rows * 8)
            (base + layout.embeddingIDs).copyMemory(from: embeddingIDs.baseAddress!, byteCount: rows * 8)
            (base + layout.scales4).copyMemory(from: scales4.baseAddress!, byteCount: rows * 4)
        }
    }

    /// Where a matrix is built: a temporary file, its space reserved up front
    /// (so a full disk fails here, with ENOSPC, not later with SIGBUS on a
    /// mapped page), mapped and filled in place, then mapped read-only and
    /// renamed into place; or, when any of that fails, an array.
    private final class Destination {
        let path: String
        let size: Int
        /// The temporary file and its writable mapping, or nil: memory.
        private var file: (temporary: String, mapping: UnsafeMutableRawPointer)?
        private var memory: [UInt8] = []

        init(path: String, size: Int) {
            self.path = path
            self.size = size
            let temporary = path + ".\(getpid())-\(UInt32.random(in: 0...UInt32.max)).tmp"
            let descriptor = open(temporary, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if descriptor >= 0 {
                defer { close(descriptor) }
                if posix_fallocate(descriptor, 0, off_t(size)) == 0,
                   let mapping = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0), mapping != MAP_FAILED {
                    // Written in 2 MiB folios where the file system can
                    // (searches then map it in 2 MiB pages).
                    PageMapping.preferHugePages(mapping, size)
                    file = (temporary, mapping)
                    return
                }
                unlink(temporary)
            }
            memory = [UInt8](repeating: 0, count: size)
        }

        /// A build that failed half-way leaves nothing behind.
        deinit {
            if let file {
                munmap(file.mapping, size)
                unlink(file.temporary)
            }
        }

        func fill(_ body: (UnsafeMutableRawPointer) throws -> Void) rethrows {
            if let file { return try body(file.mapping) }
            try memory.withUnsafeMutableBytes { try body($0.baseAddress!) }
        }

        /// The matrix over what was written: the file mapped read-only and
        /// renamed into place (trusted as written, and noted as verified), or
        /// the array.
        func finish(dimension: Int, modelChecksum: String) -> VectorMatrix {
            if let (temporary, mapping) = file {
                defer { file = nil }
                munmap(mapping, size)
                if let mapped = try? MappedFile(path: temporary) {
                    let renamed = rename(temporary, path) == 0
                    if !renamed { unlink(temporary) }   // the mapping lives on without a name
                    // Its status after the rename (which changes its ctime), if
                    // the name still leads to it.
                    let written = renamed ? FilePaths.status(path).flatMap { FileIdentity($0) == FileIdentity(mapped.status) ? $0 : nil } : nil
                    if let matrix = VectorMatrix(file: mapped, path: path, modelChecksum: modelChecksum, dimension: dimension,
                                                 trusted: true, stamp: written) {
                        return matrix
                    }
                }
                unlink(temporary)
                // Mapping it back failed (no descriptor left, say): built again in memory by the next search.
            }
            let header = memory.withUnsafeBytes { VectorMatrix.validated($0, modelChecksum: modelChecksum, dimension: dimension) }
            // Written just now by `build`, which writes what `validated` reads.
            guard let header else { preconditionFailure("a vector matrix built in memory does not read back") }
            return VectorMatrix(storage: ConstantBuffer(memory), isFile: false, header: header, dimension: dimension, modelChecksum: modelChecksum, mapped: nil)
        }
    }

    /// Deletes `<vectors>.PID-N.tmp` files whose process is gone (killed while
    /// building one).
    static func removeStaleTemporaryFiles(of path: String) {
        let folder = FilePaths.deletingLastComponent(path), prefix = FilePaths.lastComponent(path) + "."
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where name.hasPrefix(prefix) && name.hasSuffix(".tmp") {
            let middle = name.dropFirst(prefix.count).dropLast(4)
            guard let pid = middle.split(separator: "-").first.flatMap({ Int32($0) }), pid != getpid(),
                  kill(pid, 0) != 0, errno == ESRCH else { continue }
            unlink(folder + "/" + name)
        }
    }
}
