import Compute
import FileAccess
import Foundation
import GRDB
import Testing
import TestSupport
@testable import PhotoIndex

/// Large libraries' vector files are partitioned into cells (IVF): a search
/// scans the cells nearest its query. Here with a partition from 1 000
/// rows, so that a few thousand synthetic photos take that path.
@Suite("Search: the partitioned vector file")
struct PartitionedSearchTests {
    static let dimension = 48
    static let partitioning = Partitioning(minimumRows: 1000)

    /// An index of `count` clustered photos under /photos/ (and `extra`
    /// rows from `more` under /other/).
    func makeIndex(count: Int, seed: UInt64 = 3) throws -> (Workspace, PhotoLibrary) {
        let workspace = try Workspace()
        let library = PhotoLibrary(database: workspace.databasePath, model: Fixture.modelPath)
        try SyntheticIndex.insertPhotos(into: library, vectors: DuplicateFinderTests.clustered(count: count, dimension: Self.dimension, seed: seed),
                                        dimension: Self.dimension, precision: .int8, path: { String(format: "/photos/%06d.jpg", $0) })
        return (workspace, library)
    }

    /// Every photo's path, id and unit vector as stored.
    func stored(_ workspace: Workspace) throws -> [(id: Int64, path: String, embeddingID: Int64, vector: [Float])] {
        try workspace.database().read { db in
            try Row.fetchAll(db, sql: "SELECT p.id, p.path, e.id AS embedding, e.vector FROM photos p JOIN embeddings e ON e.photo_id = p.id")
                .map { ($0["id"], $0["path"], $0["embedding"], VectorBlob.vector($0["vector"])) }
        }
    }

    func dot(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }

    /// The best `top` paths by float32 brute force over the stored vectors
    /// (ties in photo id order, as the searcher breaks them).
    func bruteForce(_ rows: [(id: Int64, path: String, embeddingID: Int64, vector: [Float])], _ query: [Float], top: Int) -> [String] {
        let unit = VectorMath.normalized(query)
        var scored: [(id: Int64, path: String, score: Float)] = []
        for row in rows { scored.append((row.id, row.path, dot(unit, row.vector))) }
        scored.sort { (a, b) -> Bool in a.score > b.score || (a.score == b.score && a.id < b.id) }
        return scored.prefix(top).map { $0.path }
    }

    /// The cell of each embedding in `matrix`, by embedding id.
    func cells(of matrix: VectorMatrix) -> [Int64: Int] {
        matrix.withParts { parts in
            var cells: [Int64: Int] = [:]
            for cell in 0..<matrix.cellCount {
                for row in matrix.cellStarts[cell]..<matrix.cellStarts[cell + 1] { cells[parts.embeddingIDs[row]] = cell }
            }
            return cells
        }
    }

    func centroids(of matrix: VectorMatrix) -> [Float] {
        matrix.withParts { VectorMath.floats(fromHalves: UnsafeRawBufferPointer(start: $0.centroids, count: matrix.cellCount * matrix.dimension * 2)) }
    }

    /// Whether `cell` is (within rounding) the centroid most similar to
    /// `vector`: the file keeps the float32 centroids rows were assigned
    /// with as float16, a few parts in 10 000 of each value.
    func isNearest(_ cell: Int, _ vector: [Float], centroids: [Float]) -> Bool {
        let unit = VectorMath.normalized(vector)
        let scores = stride(from: 0, to: centroids.count, by: Self.dimension).map { dot(unit, Array(centroids[$0..<($0 + Self.dimension)])) }
        return scores[cell] >= scores.max()! - 1e-3
    }

    @Test("every photo is in the file once, in the cell nearest it; probing every cell ranks as brute force does, the standard probes nearly so")
    func partitioned() throws {
        let (workspace, _) = try makeIndex(count: 3000)
        let searcher = try PhotoSearcher(database: try workspace.database(), partitioning: Self.partitioning)
        let matrix = try searcher.currentMatrix()
        #expect(matrix.cellCount == 32 && matrix.rows == 3000 && matrix.isFile)
        let rows = try stored(workspace)
        let cellOf = cells(of: matrix)
        #expect(Set(cellOf.keys) == Set(rows.map(\.embeddingID)))
        let centroids = centroids(of: matrix)
        for row in rows where !isNearest(cellOf[row.embeddingID]!, row.vector, centroids: centroids) {
            Issue.record("\(row.path) is not in its nearest cell")
        }
        // The file read back by another process is the same partition.
        let reopened = try #require(VectorMatrix(path: VectorMatrix.path(forIndex: workspace.databasePath),
                                                 modelChecksum: searcher.model.checksum, dimension: Self.dimension))
        #expect(reopened.cellCount == 32 && cells(of: reopened) == cellOf)

        var generator = SplitMix64(seed: 41)
        var found = 0
        for _ in 0..<20 {
            // A query near a stored photo, as a search by example is.
            let base = rows[Int(generator.next() % UInt64(rows.count))].vector
            let query = base.map { $0 + Float(generator.normal()) * 0.15 / Float(Self.dimension).squareRoot() }
            let expected = bruteForce(rows, query, top: 10)
            #expect(try searcher.search(query, top: 10, probes: 32).map(\.path) == expected)
            found += Set(try searcher.search(query, top: 10).map(\.path)).intersection(expected).count
        }
        #expect(found >= 190, "recall@10 with the standard probes: \(found) of 200")
    }

    @Test("a library of few distinct photos: cells left empty never take a probe, and too few rows in the probed cells bring the next cells in")
    func fewDistinctPhotos() throws {
        let workspace = try Workspace()
        let library = PhotoLibrary(database: workspace.databasePath, model: Fixture.modelPath)
        let flat = DuplicateFinderTests.clustered(count: 5, dimension: Self.dimension, seed: 8)
        let distinct = (0..<5).map { Array(flat[($0 * Self.dimension)..<(($0 + 1) * Self.dimension)]) }
        try SyntheticIndex.insertPhotos(into: library, vectors: (0..<3000).flatMap { distinct[$0 % 5] }, dimension: Self.dimension,
                                        precision: .int8, path: { String(format: "/photos/%06d.jpg", $0) })
        let searcher = try PhotoSearcher(database: try workspace.database(), partitioning: Self.partitioning)
        let matrix = try searcher.currentMatrix()
        #expect(matrix.cellCount == 32)
        let empty = (0..<matrix.cellCount).filter { matrix.cellStarts[$0] == matrix.cellStarts[$0 + 1] }
        #expect(empty.count >= 27, "5 distinct vectors fill 5 cells at most: \(empty.count) empty")
        // Photo n holds vector n mod 5: the best photos for vector q are the
        // 600 that hold it (tied, in any order), then the others.
        func vectorOf(_ hit: SearchHit) -> Int { Int(hit.path.dropFirst("/photos/".count).prefix(6))! % 5 }
        for probes in [1, 2, 3, 4, 32] {
            for (number, query) in distinct.enumerated() {
                // Before: the nearest cells were the empty twins of the one
                // holding the query's copies, and a search found nothing.
                let best = try searcher.search(query, top: 10, probes: probes)
                #expect(best.count == 10 && best.allSatisfy { vectorOf($0) == number }, "probes \(probes)")
                let more = try searcher.search(query, top: 700, probes: probes)
                #expect(more.count == 700 && more.prefix(600).allSatisfy { vectorOf($0) == number }, "probes \(probes)")
            }
        }
    }

    @Test("written again, the file keeps its centroids and each photo's cell; photos added since go to their nearest cell")
    func incremental() throws {
        let (workspace, library) = try makeIndex(count: 3000)
        let searcher = try PhotoSearcher(database: try workspace.database(), partitioning: Self.partitioning)
        let first = try searcher.currentMatrix()
        try SyntheticIndex.insertPhotos(into: library, vectors: DuplicateFinderTests.clustered(count: 700, dimension: Self.dimension, seed: 8),
                                        dimension: Self.dimension, precision: .int8, path: { String(format: "/new/%06d.jpg", $0) })
        // 700 newer rows: fewer than the rewrite threshold, searched from SQLite.
        let query = try stored(workspace).first { $0.path == "/new/000005.jpg" }!.vector
        #expect(try searcher.search(query, top: 1).first?.path == "/new/000005.jpg")

        let second = try searcher.rebuildMatrix(replacing: first)
        #expect(second !== first && second.rows == 3700 && second.cellCount == first.cellCount)
        #expect(centroids(of: second) == centroids(of: first))
        let before = cells(of: first), after = cells(of: second)
        #expect(before.allSatisfy { after[$0.key] == $0.value })
        let centroids = centroids(of: second)
        for row in try stored(workspace) where before[row.embeddingID] == nil {
            #expect(isNearest(after[row.embeddingID]!, row.vector, centroids: centroids), "\(row.path)")
        }
        #expect(try searcher.search(query, top: 1, probes: 32).first?.path == "/new/000005.jpg")

        // Grown fourfold: trained again, with more cells.
        try SyntheticIndex.insertPhotos(into: library, vectors: DuplicateFinderTests.clustered(count: 9000, dimension: Self.dimension, seed: 9),
                                        dimension: Self.dimension, precision: .int8, path: { String(format: "/more/%06d.jpg", $0) })
        let third = try searcher.rebuildMatrix(replacing: second)
        #expect(third.rows == 12_700 && third.cellCount == 64)
    }

    @Test("a filter whose photos lie outside the probed cells still finds its best photos", arguments: [3, 100, 1500])
    func filterOutsideTheProbes(allowed: Int) throws {
        // /photos/: clusters around one direction; /other/: around another.
        let workspace = try Workspace()
        let library = PhotoLibrary(database: workspace.databasePath, model: Fixture.modelPath)
        var generator = SplitMix64(seed: 5)
        func group(_ axis: Int, count: Int) -> [Float] {
            var values: [Float] = []
            let centres = (0..<10).map { _ in (0..<Self.dimension).map { _ in Float(generator.normal()) * 0.3 } }
            for row in 0..<count {
                var vector = centres[row % 10].enumerated().map { $0.element + ($0.offset == axis ? 3 : 0) + Float(generator.normal()) * 0.2 }
                vector = VectorMath.normalized(vector)
                values += vector
            }
            return values
        }
        try SyntheticIndex.insertPhotos(into: library, vectors: group(0, count: 3000 - allowed), dimension: Self.dimension, precision: .int8,
                                        path: { String(format: "/photos/%06d.jpg", $0) })
        try SyntheticIndex.insertPhotos(into: library, vectors: group(1, count: allowed), dimension: Self.dimension, precision: .int8,
                                        path: { String(format: "/other/%06d.jpg", $0) })
        let searcher = try PhotoSearcher(database: try workspace.database(), partitioning: Self.partitioning)
        #expect(try searcher.currentMatrix().cellCount == 32)
        let rows = try stored(workspace)
        var query = [Float](repeating: 0, count: Self.dimension)
        query[0] = 1   // in /photos/' cells
        let filter = SearchFilter(folder: "/other")
        let expected = bruteForce(rows.filter { $0.path.hasPrefix("/other/") }, query, top: 10)
        #expect(try searcher.search(query, top: 10, filter: filter, probes: 2).map(\.path) == expected)
        #expect(try searcher.search(query, top: 10, filter: filter).map(\.path) == expected)
    }

    @Test("a cell table that does not add up is refused even under a valid checksum, and the file is written again")
    func damagedCellTable() throws {
        let (workspace, _) = try makeIndex(count: 2000)
        let searcher = try PhotoSearcher(database: try workspace.database(), partitioning: Self.partitioning)
        let matrix = try searcher.currentMatrix()
        let path = VectorMatrix.path(forIndex: workspace.databasePath)
        let checksum = searcher.model.checksum
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        // The table follows the header, the ids and the scales.
        let table = 128 + matrix.rows * 20   // after the header: photo ids, embedding ids, 4-bit scales
        #expect(bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: table + 8 * matrix.cellCount, as: UInt64.self) } == 2000)
        for damage in [(cell: 3, value: UInt64(5000)), (cell: 0, value: UInt64(1)), (cell: 7, value: UInt64(0))] {
            var damaged = bytes
            damaged.withUnsafeMutableBytes { $0.storeBytes(of: damage.value, toByteOffset: table + 8 * damage.cell, as: UInt64.self) }
            let sum = damaged.withUnsafeBytes { ContentHash.blockwise(UnsafeRawBufferPointer(rebasing: $0[128...])) }
            damaged.withUnsafeMutableBytes { $0.storeBytes(of: sum, toByteOffset: 104, as: UInt64.self) }
            try Data(damaged).write(to: URL(fileURLWithPath: path))
            #expect(VectorMatrix(path: path, modelChecksum: checksum, dimension: Self.dimension) == nil, "cell \(damage.cell)")
        }
        // The same bytes with their own checksum are accepted (the check is the table's, not the sum's).
        let sum = bytes.withUnsafeBytes { ContentHash.blockwise(UnsafeRawBufferPointer(rebasing: $0[128...])) }
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: sum, toByteOffset: 104, as: UInt64.self) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(VectorMatrix(path: path, modelChecksum: checksum, dimension: Self.dimension) != nil)
        // Damaged on disk, a new searcher writes it again.
        bytes[table + 8] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let rebuilt = try PhotoSearcher(database: try workspace.database(), partitioning: Self.partitioning).currentMatrix()
        #expect(rebuilt.cellCount == 32 && rebuilt.rows == 2000)
        #expect(VectorMatrix(path: path, modelChecksum: checksum, dimension: Self.dimension) != nil)
    }

    @Test("an index run's end writes a file it left far behind; a searcher holding the old one takes the new file instead of writing another")
    func refreshedAfterIndexing() throws {
        let (workspace, library) = try makeIndex(count: 1100)
        let path = VectorMatrix.path(forIndex: workspace.databasePath)
        // No file yet: none is written (the first search writes it).
        try PhotoSearcher(database: try workspace.database(), partitioning: Self.partitioning).refreshStaleFile()
        #expect(!FileManager.default.fileExists(atPath: path))
        let server = try PhotoSearcher(database: try workspace.database(), partitioning: Self.partitioning)
        let old = try server.currentMatrix()
        // Current: left as it is.
        let written = try #require(FilePaths.status(path))
        try PhotoSearcher(database: try workspace.database(), partitioning: Self.partitioning).refreshStaleFile()
        #expect(try #require(FilePaths.status(path)).st_ino == written.st_ino)

        try SyntheticIndex.insertPhotos(into: library, vectors: DuplicateFinderTests.clustered(count: 2100, dimension: Self.dimension, seed: 4),
                                        dimension: Self.dimension, precision: .int8, path: { String(format: "/new/%06d.jpg", $0) })
        try PhotoSearcher(database: try workspace.database(), partitioning: Self.partitioning).refreshStaleFile()
        let refreshed = try #require(FilePaths.status(path))
        #expect(refreshed.st_ino != written.st_ino)
        let onDisk = try #require(VectorMatrix(path: path, modelChecksum: server.model.checksum, dimension: Self.dimension))
        #expect(onDisk.rows == 3200 && onDisk.cellCount == old.cellCount && onDisk.highestEmbeddingID > old.highestEmbeddingID)
        let kept = cells(of: old), now = cells(of: onDisk)
        #expect(kept.allSatisfy { now[$0.key] == $0.value })

        // The server's search sees 2 100 newer rows than its matrix: it maps the new file.
        let query = try stored(workspace).first { $0.path == "/new/000007.jpg" }!.vector
        #expect(try server.search(query, top: 1).first?.path == "/new/000007.jpg")
        #expect(try server.currentMatrix().highestEmbeddingID == onDisk.highestEmbeddingID)
        #expect(try #require(FilePaths.status(path)).st_ino == refreshed.st_ino)
    }

    @Test("status says how the vector file is laid out")
    func status() throws {
        let (workspace, library) = try makeIndex(count: 1500)
        #expect(try library.status().vectorFile == nil)
        _ = try PhotoSearcher(database: try workspace.database(), partitioning: Self.partitioning).currentMatrix()
        #expect(try library.status().vectorFile == IndexStatus.VectorFile(rows: 1500, cells: 32, probes: 16, newer: 0))
        try SyntheticIndex.insertPhotos(into: library, vectors: DuplicateFinderTests.clustered(count: 10, dimension: Self.dimension, seed: 2),
                                        dimension: Self.dimension, precision: .int8, path: { "/late/\($0).jpg" })
        #expect(try library.status().vectorFile?.newer == 10)
    }
}
