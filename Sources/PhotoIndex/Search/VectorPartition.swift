import Compute
import Foundation
import GRDB

/// When the vector matrix is partitioned into cells (IVF), and into how
/// many: below `minimumRows` a search scans every row (1.7 ms at 100 000
/// rows of 512; a partition would only cost recall), above it the cells
/// are the largest power of two ≤ √rows (512 at a million rows, 2 048 at
/// ten million: a few thousand rows each). A power of two, so that a
/// library that grows keeps its cells, and its rows their cells, until it
/// has grown fourfold.
package struct Partitioning: Sendable, Equatable {
    package var minimumRows: Int

    package static let standard = Partitioning(minimumRows: 400_000)

    /// `PHOTOSEARCH_PARTITION_FROM=N` partitions matrices of N rows and more
    /// (for tests and tuning); else the standard policy.
    package static func fromEnvironment() -> Partitioning {
        guard let text = ProcessInfo.processInfo.environment["PHOTOSEARCH_PARTITION_FROM"], let rows = Int(text), rows > 0 else {
            return .standard
        }
        return Partitioning(minimumRows: rows)
    }

    /// 0: not partitioned.
    func cells(rows: Int) -> Int {
        guard rows >= minimumRows, rows >= 4 else { return 0 }
        var cells = 2
        while (cells * 2) * (cells * 2) <= rows { cells *= 2 }
        return cells
    }

    /// The cells a search scans when it does not say: a thirty-second of
    /// them, at least 16 (16 of 512 at a million rows, 64 of 2 048 at ten
    /// million). On clustered data (`photosearch-bench search`) that found
    /// 99.7 % of the true ten best at a million rows and 98.7 % at ten
    /// million, in 5.4–5.6 ms on an AMD Zen 2 (vector file v7; twice the
    /// cells found 99.3 % in 17 ms with v6).
    static func probes(cells: Int) -> Int { min(cells, max(16, cells / 32)) }
}

/// Each embedding's cell for a partitioned matrix: the centroids of the
/// matrix being replaced and the cells of its rows when it has as many
/// cells (by embedding id: an embedding's vector never changes), else
/// centroids trained anew on a sample; rows not in the old matrix are
/// assigned to their nearest centroid.
struct CellAssignment {
    let cells: Int
    /// cells × dimension, unit rows.
    let centroids: [Float]
    /// For each of the embedding ids given, its cell, or -1 when its vector
    /// is unusable (of another size, NaN or ∞): left out, as unpartitioned
    /// matrices leave it out.
    let cellOfRow: [Int32]

    /// `embeddingIDs`: ascending. Nil when too few vectors are usable to
    /// train that many cells (the matrix is then not partitioned).
    init?(_ db: Database, model: ModelRecord, embeddingIDs ids: [Int64], cells wanted: Int, previous: VectorMatrix?) throws {
        let dimension = model.embeddingSize
        var cellOfRow = [Int32](repeating: -2, count: ids.count)   // -2: not yet known
        let partition: VectorCells
        if let previous, previous.cellCount == wanted, previous.dimension == dimension, previous.modelChecksum == model.checksum {
            partition = previous.withParts { parts in
                VectorCells(centroids: VectorMath.floats(fromHalves: UnsafeRawBufferPointer(start: parts.centroids, count: wanted * dimension * 2)),
                            dimension: dimension)
            }
            // The old rows' cells, by embedding id, joined with `ids` (both sorted).
            var known: [(id: Int64, cell: Int32)] = []
            known.reserveCapacity(previous.rows)
            previous.withParts { parts in
                for cell in 0..<wanted {
                    for row in previous.cellStarts[cell]..<previous.cellStarts[cell + 1] {
                        known.append((parts.embeddingIDs[row], Int32(cell)))
                    }
                }
            }
            known.sort { $0.id < $1.id }
            var next = 0
            for (index, id) in ids.enumerated() {
                while next < known.count && known[next].id < id { next += 1 }
                if next < known.count, known[next].id == id { cellOfRow[index] = known[next].cell }
            }
        } else {
            guard let trained = try Self.train(db, model: model, embeddingIDs: ids, cells: wanted) else { return nil }
            partition = trained
        }
        // The rest, in blocks of unit rows scored against every centroid.
        let unknown = cellOfRow.indices.filter { cellOfRow[$0] == -2 }
        let block = 4096
        var rows = [Float](), indices = [Int]()
        rows.reserveCapacity(block * dimension)
        func assign() {
            guard !indices.isEmpty else { return }
            let nearest = rows.withUnsafeBufferPointer { partition.nearest($0, rows: indices.count, probes: 1) }
            for (offset, index) in indices.enumerated() { cellOfRow[index] = nearest[offset] }
            rows.removeAll(keepingCapacity: true)
            indices.removeAll(keepingCapacity: true)
        }
        try Self.forEachVector(db, model: model, of: unknown.map { ids[$0] }, among: ids.count) { position, vector in
            let index = unknown[position]
            guard let vector else { return cellOfRow[index] = -1 }
            rows += VectorMath.normalized(vector)
            indices.append(index)
            if indices.count == block { assign() }
        }
        assign()
        for index in unknown where cellOfRow[index] == -2 { cellOfRow[index] = -1 }   // deleted meanwhile: cannot be, one transaction
        cells = wanted
        centroids = partition.centroids
        self.cellOfRow = cellOfRow
    }

    /// Spherical k-means on a random sample of the embeddings: 64 per cell
    /// (enough for centroids that partition well; training costs sample ×
    /// cells × dimension per round).
    private static func train(_ db: Database, model: ModelRecord, embeddingIDs ids: [Int64], cells: Int) throws -> VectorCells? {
        let dimension = model.embeddingSize
        var generator = Mix64(0x5EED)
        var order = Array(ids.indices)
        let wanted = min(ids.count, 64 * cells)
        for index in 0..<wanted { order.swapAt(index, index + Int(generator.next() % UInt64(ids.count - index))) }
        let sampleIDs = order.prefix(wanted).sorted().map { ids[$0] }
        var sample = [Float]()
        sample.reserveCapacity(wanted * dimension)
        var count = 0
        try forEachVector(db, model: model, of: sampleIDs, among: ids.count) { _, vector in
            guard let vector else { return }
            sample += VectorMath.normalized(vector)
            count += 1
        }
        guard count >= cells else { return nil }
        return sample.withUnsafeBufferPointer {
            VectorCells(training: $0, rows: count, dimension: dimension, cells: cells, sampleSize: count)
        }
    }

    /// Calls `body` with the position in `wanted` (ascending embedding ids)
    /// and the vector of each (nil: unusable): by one pass over all of the
    /// model's `total` embeddings when most are wanted, else by id.
    private static func forEachVector(_ db: Database, model: ModelRecord, of wanted: [Int64], among total: Int,
                                      _ body: (Int, [Float]?) throws -> Void) throws {
        guard !wanted.isEmpty else { return }
        func usable(_ vector: [Float]) -> [Float]? {
            vector.count == model.embeddingSize && vector.allSatisfy(\.isFinite) ? vector : nil
        }
        if wanted.count > total / 8 {
            let cursor = try Row.fetchCursor(db, sql: "SELECT id, vector FROM embeddings WHERE model_id = ? AND id >= ? AND id <= ? ORDER BY id",
                                             arguments: [model.id, wanted.first!, wanted.last!])
            var next = 0
            while let row = try cursor.next(), next < wanted.count {
                let id: Int64 = row[0]
                while next < wanted.count && wanted[next] < id {
                    try body(next, nil)
                    next += 1
                }
                guard next < wanted.count, id == wanted[next] else { continue }
                try body(next, usable(VectorBlob.vector(row[1])))
                next += 1
            }
            while next < wanted.count {
                try body(next, nil)
                next += 1
            }
            return
        }
        for start in stride(from: 0, to: wanted.count, by: 500) {
            let batch = Array(wanted[start..<min(wanted.count, start + 500)])
            var found: [Int64: [Float]] = [:]
            let rows = try Row.fetchCursor(db, sql: "SELECT id, vector FROM embeddings WHERE id IN (\(batch.map { _ in "?" }.joined(separator: ",")))",
                                           arguments: StatementArguments(batch))
            while let row = try rows.next() { found[row[0]] = VectorBlob.vector(row[1]) }
            for (offset, id) in batch.enumerated() { try body(start + offset, found[id].flatMap(usable)) }
        }
    }
}
