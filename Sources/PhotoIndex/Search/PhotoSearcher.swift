import CKernels
import CLIP
import Dispatch
import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#endif

/// One search result.
public struct SearchResult: Sendable, Equatable {
    public var photoID: Int64
    public var path: String
    /// Cosine similarity with the query.
    public var score: Float
    /// EXIF date taken, else the file's modification time (local), "YYYY-MM-DDTHH:MM:SS".
    public var takenAt: String?
    /// True when `takenAt` comes from EXIF.
    public var hasCameraDate: Bool
}

/// Exact top-K search over an index's vectors.
///
/// First pass: the 4-bit rows of the `VectorMatrix`, scanned on every core
/// (AVX2), keeping the best few hundred rows in a heap per core. Second pass:
/// those rows scored again from their 8-bit copies. Third pass: the best of
/// them, plus every embedding added since the matrix was written, scored
/// exactly with their float32 vectors from SQLite, which also drops photos
/// deleted since. Filters are applied in the first pass, before
/// ranking. When more than 5% of the vectors are newer than the matrix, the
/// matrix is rewritten first.
public final class PhotoSearcher: @unchecked Sendable {
    public let database: IndexDatabase
    public let model: ModelRecord
    private var matrix: VectorMatrix?
    private var rebuilt = false

    /// Opens the search side of an index; `emptyIndex` when it has no vectors.
    public init(database: IndexDatabase) throws(PhotoIndexError) {
        self.database = database
        let found = try database.read { db -> (ModelRecord?, Bool) in
            let model = try ModelRecord.current(db)
            let any = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM embeddings)") ?? false
            return (model, any)
        }
        guard let model = found.0, found.1 else { throw .emptyIndex(path: database.path) }
        self.model = model
    }

    /// Refuses a model other than the one the index was built with.
    public func verify(_ identity: ModelIdentity) throws(PhotoIndexError) {
        guard identity.embeddingSize == model.embeddingSize else {
            throw .embeddingSizeMismatch(index: model.embeddingSize, given: identity.embeddingSize)
        }
        guard identity.checksum == model.checksum else {
            throw .modelMismatch(index: "\(model.name) (\(model.checksum))", given: "\(identity.name) (\(identity.checksum))")
        }
    }

    /// The stored vector of the photo at `path`, or nil if it is not indexed.
    public func storedVector(path: String) throws(PhotoIndexError) -> (photoID: Int64, vector: [Float])? {
        try database.read { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT p.id, e.vector FROM photos p JOIN embeddings e ON e.photo_id = p.id AND e.model_id = ?
                WHERE p.path = ?
                """, arguments: [model.id, path]) else { return nil }
            return (row["id"], VectorBlob.vector(row["vector"]))
        }
    }

    /// How many 4-bit candidates get an 8-bit score, and how many of those an
    /// exact one, for a top-K query.
    static func coarseCandidates(top: Int) -> Int { max(40 * top, 400) }
    static func candidates(top: Int) -> Int { max(4 * top, 64) }

    /// The `top` photos most similar to `query` (L2-normalised internally).
    public func search(_ query: [Float], top: Int, minimumScore: Float? = nil, filter: SearchFilter = SearchFilter(),
                       excluding: Set<Int64> = []) throws(PhotoIndexError) -> [SearchResult] {
        precondition(query.count == model.embeddingSize, "query dimension differs from the index's")
        let query = CLIPModel.normalized(query)
        let matrix = try currentMatrix()
        let allowed = try allowedPhotos(filter)
        let delta = try vectorsAdded(after: matrix.highestEmbeddingID)

        // First pass over the int8 matrix.
        let candidates = scan(matrix, query: query, coarse: Self.coarseCandidates(top: top) + excluding.count,
                              capacity: Self.candidates(top: top) + excluding.count, allowed: allowed)
        // Second pass: exact scores from SQLite for the candidates and the newer rows.
        var exact: [Int64: Float] = [:]
        let candidateIDs = candidates.map { matrix.photoIDs[$0.item] }
        let current = try exactScores(of: candidateIDs, query: query)
        if current.count < candidateIDs.count, candidateIDs.count - current.count > candidateIDs.count / 4, !rebuilt {
            // Many candidates were deleted since the matrix was written: they
            // could crowd out live photos. Rewrite it and search again.
            try VectorMatrix.build(database: database, model: model, to: VectorMatrix.path(forIndex: database.path))
            self.matrix = nil
            rebuilt = true
            return try search(query, top: top, minimumScore: minimumScore, filter: filter, excluding: excluding)
        }
        exact = current
        for (photoID, vector) in delta where allowed?.contains(photoID) ?? true {
            exact[photoID] = Self.dot(query, vector)
        }
        var ranked = exact.filter { !excluding.contains($0.key) && $0.value >= (minimumScore ?? -.infinity) }
            .sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }
        if ranked.count > top { ranked.removeLast(ranked.count - top) }
        return try describe(ranked)
    }

    /// Every indexed photo's vector, for all-pairs work (duplicates).
    public func allVectors() throws(PhotoIndexError) -> [(photoID: Int64, vector: [Float])] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT photo_id, vector FROM embeddings WHERE model_id = ? ORDER BY photo_id",
                             arguments: [model.id]).map { ($0["photo_id"], VectorBlob.vector($0["vector"])) }
        }
    }

    /// Paths and dates for photo ids, in the given order.
    public func describe(_ ranked: [(key: Int64, value: Float)]) throws(PhotoIndexError) -> [SearchResult] {
        guard !ranked.isEmpty else { return [] }
        let rows = try database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT id, path, taken_at,
                       strftime('%Y-%m-%dT%H:%M:%S', modified_at / 1000000000, 'unixepoch', 'localtime') AS modified
                FROM photos WHERE id IN (\(ranked.map { _ in "?" }.joined(separator: ",")))
                """, arguments: StatementArguments(ranked.map(\.key)))
        }
        var byID: [Int64: Row] = [:]
        for row in rows { byID[row["id"]] = row }
        return ranked.compactMap { entry in
            guard let row = byID[entry.key] else { return nil }
            let taken: String? = row["taken_at"]
            return SearchResult(photoID: entry.key, path: row["path"], score: entry.value,
                                takenAt: taken ?? row["modified"], hasCameraDate: taken != nil)
        }
    }

    // MARK: The matrix

    /// The matrix file, rebuilt when missing, for another model, or when too
    /// many vectors were added since it was written.
    func currentMatrix() throws(PhotoIndexError) -> VectorMatrix {
        if let matrix { return matrix }
        let path = VectorMatrix.path(forIndex: database.path)
        if let existing = VectorMatrix(path: path, modelChecksum: model.checksum, dimension: model.embeddingSize) {
            // Rows added since are read from SQLite on every search (an index
            // range, cheap to count). Rows deleted or replaced since are
            // caught when they crowd the candidates (see `search`).
            let newer = try database.read { db in
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM embeddings WHERE model_id = ? AND id > ?",
                                 arguments: [model.id, existing.highestEmbeddingID]) ?? 0
            }
            if newer <= max(2000, existing.rows / 20) {
                matrix = existing
                return existing
            }
        }
        try VectorMatrix.build(database: database, model: model, to: path)
        guard let built = VectorMatrix(path: path, modelChecksum: model.checksum, dimension: model.embeddingSize) else {
            throw .database(path: path, reason: "the vector file could not be read back")
        }
        matrix = built
        return built
    }

    private func vectorsAdded(after id: Int64) throws(PhotoIndexError) -> [(Int64, [Float])] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT photo_id, vector FROM embeddings WHERE model_id = ? AND id > ?",
                             arguments: [model.id, id]).map { ($0["photo_id"], VectorBlob.vector($0["vector"])) }
        }
    }

    /// Exact float32 scores of these photos' current vectors (photos deleted
    /// since are simply absent), computed straight from SQLite's blobs.
    private func exactScores(of photoIDs: [Int64], query: [Float]) throws(PhotoIndexError) -> [Int64: Float] {
        guard !photoIDs.isEmpty else { return [:] }
        return try database.read { db in
            var scores: [Int64: Float] = [:]
            let rows = try Row.fetchCursor(db, sql: """
                SELECT photo_id, vector FROM embeddings WHERE model_id = ? AND photo_id IN (\(photoIDs.map { _ in "?" }.joined(separator: ",")))
                """, arguments: StatementArguments([model.id] + photoIDs.map { Optional($0) }))
            while let row = try rows.next() {
                let photoID: Int64 = row[0]
                guard let blob = row.dataNoCopy(atIndex: 1), blob.count == query.count * 4 else { continue }
                scores[photoID] = blob.withUnsafeBytes { raw in
                    query.withUnsafeBufferPointer { q in
                        var sum: Float = 0
                        for index in 0..<q.count { sum += q[index] * raw.loadUnaligned(fromByteOffset: index * 4, as: Float.self) }
                        return sum
                    }
                }
            }
            return scores
        }
    }

    private func allowedPhotos(_ filter: SearchFilter) throws(PhotoIndexError) -> Set<Int64>? {
        guard !filter.isEmpty else { return nil }
        let (clause, arguments) = filter.sql()
        return try database.read { db in
            Set(try Int64.fetchAll(db, sql: "SELECT id FROM photos WHERE \(clause)", arguments: StatementArguments(arguments)))
        }
    }

    // MARK: Scanning

    /// The best `capacity` rows of the matrix for `query`: the best `coarse`
    /// by the 4-bit rows (every core), then re-ranked by the 8-bit rows.
    func scan(_ matrix: VectorMatrix, query: [Float], coarse: Int, capacity: Int, allowed: Set<Int64>?) -> [(score: Float, item: Int)] {
        let dimension = matrix.dimension, rows = matrix.rows
        guard rows > 0 else { return [] }
        let padded = VectorMatrix.paddedDimension(dimension)
        // 4-bit rows are u = v/s4 + 8: q·v = s_q · s4 · (Σ q·u − 8 · Σ q).
        var query4 = [Int8](repeating: 0, count: padded)
        let scale4 = query.withUnsafeBufferPointer { source in
            query4.withUnsafeMutableBufferPointer { ps_quantize(source.baseAddress, dimension, 127, $0.baseAddress) }
        }
        let offset4 = 8 * query4.reduce(Int32(0)) { $0 + Int32($1) }
        let parts = rows < 8192 ? 1 : max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        let chunk = (rows + parts - 1) / parts
        let heaps = UnsafeMutableBufferPointer<TopK>.allocate(capacity: parts)
        defer { heaps.deallocate() }
        let heapsPointer = HeapPointer(heaps)
        let matrixBox = MatrixPointers(matrix)
        query4.withUnsafeBufferPointer { queryBuffer in
            let queryPointer = QueryPointer(queryBuffer.baseAddress!)
            let work: @Sendable (Int) -> Void = { part in
                var heap = TopK(capacity: coarse)
                let start = part * chunk, end = min(rows, start + chunk)
                let block = 4096
                var dots = [Int32](repeating: 0, count: block)
                var row = start
                while row < end {
                    let count = min(block, end - row)
                    dots.withUnsafeMutableBufferPointer { out in
                        ps_dot_u4(queryPointer.pointer, matrixBox.vectors4 + row * padded / 2, count, padded, out.baseAddress)
                    }
                    for offset in 0..<count {
                        let index = row + offset
                        let score = Float(dots[offset] - offset4) * scale4 * matrixBox.scales4[index]
                        if score > heap.threshold {
                            if let allowed, !allowed.contains(matrixBox.photoIDs[index]) { continue }
                            heap.insert(score, index)
                        }
                    }
                    row += count
                }
                (heapsPointer.base + part).initialize(to: heap)
            }
            if parts == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: parts, execute: work) }
        }
        var merged = TopK(capacity: coarse)
        for part in 0..<parts {
            merged.merge(heaps[part])
            (heaps.baseAddress! + part).deinitialize(count: 1)
        }
        // 8-bit rows are u = v/s8 + 127, the query in [-63, 63] (see ps_dot_u8).
        var query8 = [Int8](repeating: 0, count: dimension)
        let scale8 = query.withUnsafeBufferPointer { source in
            query8.withUnsafeMutableBufferPointer { ps_quantize(source.baseAddress, dimension, 63, $0.baseAddress) }
        }
        let offset8 = 127 * query8.reduce(Int32(0)) { $0 + Int32($1) }
        var refined = TopK(capacity: capacity)
        var dot: Int32 = 0
        for candidate in merged.sorted() {
            ps_dot_u8(query8, matrix.vectors + candidate.item * dimension, 1, dimension, &dot)
            refined.insert(Float(dot - offset8) * scale8 * matrix.scales[candidate.item], candidate.item)
        }
        return refined.sorted()
    }

    static func dot(_ a: [Float], _ b: [Float]) -> Float {
        guard a.count == b.count else { return -.infinity }
        var sum: Float = 0
        for index in a.indices { sum += a[index] * b[index] }
        return sum
    }
}

private struct HeapPointer: @unchecked Sendable {
    let base: UnsafeMutablePointer<TopK>
    init(_ buffer: UnsafeMutableBufferPointer<TopK>) { base = buffer.baseAddress! }
}

private struct QueryPointer: @unchecked Sendable {
    let pointer: UnsafePointer<Int8>
    init(_ pointer: UnsafePointer<Int8>) { self.pointer = pointer }
}

private struct MatrixPointers: @unchecked Sendable {
    let vectors4: UnsafePointer<UInt8>
    let scales4: UnsafePointer<Float>
    let photoIDs: UnsafePointer<Int64>
    init(_ matrix: VectorMatrix) {
        vectors4 = matrix.vectors4
        scales4 = matrix.scales4
        photoIDs = matrix.photoIDs
    }
}
