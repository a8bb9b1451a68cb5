import Compute
import Foundation

/// A group of near-identical photos.
public struct DuplicateGroup: Sendable, Equatable {
    public var paths: [String]
    /// The lowest similarity among the links that formed the group.
    public var similarity: Float
}

/// Groups of near-identical photos: every pair whose vectors have cosine ≥
/// threshold is linked, and linked photos form a group (union-find).
///
/// The vectors are read as SQLite holds them, float16 (`HalfRows`: 10 GB
/// at ten million photos of 512), and decoded to unit float32 a tile at a
/// time. Up to `partitionFrom` photos, or with `exact`, or for a threshold
/// below `partitionThreshold`, all pairs are compared, as tiles of matrix
/// products (`PackedMatrix`): n²·d, 55 s at 100 000 photos. Above, the
/// vectors are partitioned into cells (`VectorCells`, ~2·√n of them) and
/// each vector is compared only with the members of its `probes` nearest
/// cells: n·(k + probes·n/k)·d, 3 s at 100 000. Pairs are confirmed by
/// the same exact products; a pair is missed only when neither vector's
/// nearest cells hold the other, which for near-identical photos is rare
/// (`photosearch-bench duplicates` measures the share found).
struct DuplicateFinder {
    let searcher: PhotoSearcher

    static let partitionFrom = 20_000
    static let partitionThreshold: Float = 0.9
    static let probes = 6

    func groups(threshold: Float, exact: Bool = false) throws(PhotoIndexError) -> [DuplicateGroup] {
        let (ids, rows) = try searcher.allVectors()
        let count = ids.count
        guard count > 1 else { return [] }
        var links = Links(count: count)
        if exact || count < Self.partitionFrom || threshold < Self.partitionThreshold {
            Self.allPairs(rows, threshold: threshold, links: &links)
        } else {
            Self.nearbyPairs(rows, threshold: threshold, probes: Self.probes, links: &links)
        }
        let members = links.groups()
        var pathByID: [Int64: String] = [:]
        let grouped = members.flatMap { $0 }.map { ids[$0] }
        for chunk in stride(from: 0, to: grouped.count, by: 500) {
            let slice = grouped[chunk..<min(chunk + 500, grouped.count)]
            for result in try searcher.describe(slice.map { (key: $0, value: Float(0)) }) {
                pathByID[result.photoID] = result.path
            }
        }
        return members.map { items in
            DuplicateGroup(paths: items.compactMap { pathByID[ids[$0]] }.sorted(), similarity: links.weakest(of: items[0]))
        }.sorted { $0.paths.first ?? "" < $1.paths.first ?? "" }
    }

    /// Every pair: tiles of 256 rows against 4 096 columns, each decoded
    /// when it is used, so that memory stays a few megabytes at any count.
    static func allPairs(_ rows: HalfRows, threshold: Float, links: inout Links) {
        let count = rows.count, dimension = rows.dimension
        let (tileRows, tileColumns) = (256, 4096)
        var rowValues = [Float](repeating: 0, count: tileRows * dimension)
        var similarities = [Float](repeating: 0, count: tileRows * tileColumns)
        for columnStart in stride(from: 0, to: count, by: tileColumns) {
            let columns = columnStart..<min(count, columnStart + tileColumns)
            let products = rows.decoded(columns).withUnsafeBufferPointer {
                PackedMatrix(packing: $0, outputs: columns.count, inputs: dimension)
            }
            // Pairs i < j with j in this tile: i below its end.
            for rowStart in stride(from: 0, to: columns.upperBound - 1, by: tileRows) {
                let tile = rowStart..<min(columns.upperBound - 1, rowStart + tileRows)
                rowValues.withUnsafeMutableBufferPointer { values in
                    rows.decode(tile, into: values.baseAddress!)
                    similarities.withUnsafeMutableBufferPointer { s in
                        products.multiply(rows: tile.count, values.baseAddress!, lda: dimension, into: s.baseAddress!, ldc: columns.count)
                    }
                }
                for i in tile {
                    let row = (i - rowStart) * columns.count
                    for j in max(i + 1, columns.lowerBound)..<columns.upperBound where similarities[row + j - columns.lowerBound] >= threshold {
                        links.link(i, j, similarities[row + j - columns.lowerBound])
                    }
                }
            }
        }
    }

    /// Each vector against the members of its `probes` nearest cells, the
    /// rows decoded a block or a cell at a time.
    static func nearbyPairs(_ rows: HalfRows, threshold: Float, probes: Int, links: inout Links) {
        let count = rows.count, dimension = rows.dimension
        let cells = VectorCells(rows: count, dimension: dimension, cells: VectorCells.cellCount(vectors: count)) { sample, target in
            rows.decode(sample, into: target)
        }
        let probes = min(probes, cells.count)
        var nearest = [Int32]()
        nearest.reserveCapacity(count * probes)
        var block = [Float](repeating: 0, count: 16_384 * dimension)
        for start in stride(from: 0, to: count, by: 16_384) {
            let range = start..<min(count, start + 16_384)
            block.withUnsafeMutableBufferPointer { block in
                rows.decode(range, into: block.baseAddress!)
                nearest += cells.nearest(UnsafeBufferPointer(rebasing: block[0..<(range.count * dimension)]), rows: range.count, probes: probes)
            }
        }
        // Members (by nearest cell) and queries (by any of the probed
        // cells) of each cell, as offsets into one list each.
        func grouped(width: Int) -> (starts: [Int], items: [Int32]) {
            var starts = [Int](repeating: 0, count: cells.count + 1)
            for item in 0..<count { for probe in 0..<width { starts[Int(nearest[item * probes + probe]) + 1] += 1 } }
            for cell in 0..<cells.count { starts[cell + 1] += starts[cell] }
            var next = starts
            var items = [Int32](repeating: 0, count: starts[cells.count])
            for item in 0..<count {
                for probe in 0..<width {
                    let cell = Int(nearest[item * probes + probe])
                    items[next[cell]] = Int32(item)
                    next[cell] += 1
                }
            }
            return (starts, items)
        }
        let members = grouped(width: 1)
        let queries = grouped(width: probes)

        var memberRows: [Float] = [], queryRows: [Float] = [], scores: [Float] = []
        for cell in 0..<cells.count {
            let inCell = members.items[members.starts[cell]..<members.starts[cell + 1]]
            guard !inCell.isEmpty else { continue }
            memberRows = rows.decoded(inCell.lazy.map { Int($0) })
            let products = memberRows.withUnsafeBufferPointer { PackedMatrix(packing: $0, outputs: inCell.count, inputs: dimension) }
            let asking = queries.items[queries.starts[cell]..<queries.starts[cell + 1]]
            // Queries in blocks that keep the scores within ~16 MB.
            let block = max(16, (4 << 20) / inCell.count)
            var start = asking.startIndex
            while start < asking.endIndex {
                let end = min(start + block, asking.endIndex)
                let rowCount = end - start
                if queryRows.count < rowCount * dimension { queryRows = [Float](repeating: 0, count: rowCount * dimension) }
                if scores.count < rowCount * inCell.count { scores = [Float](repeating: 0, count: rowCount * inCell.count) }
                queryRows.withUnsafeMutableBufferPointer { q in
                    rows.decode(asking[start..<end].lazy.map { Int($0) }, into: q.baseAddress!)
                    scores.withUnsafeMutableBufferPointer { s in
                        products.multiply(rows: rowCount, q.baseAddress!, lda: dimension, into: s.baseAddress!, ldc: inCell.count)
                    }
                }
                for (row, query) in asking[start..<end].enumerated() {
                    for (column, member) in inCell.enumerated() where member != query {
                        let score = scores[row * inCell.count + column]
                        if score >= threshold { links.link(Int(query), Int(member), score) }
                    }
                }
                start = end
            }
        }
    }
}

/// Union-find over items, with the weakest link of each group.
struct Links {
    private var parent: [Int]
    private var weakestLink: [Float]

    init(count: Int) {
        parent = Array(0..<count)
        weakestLink = [Float](repeating: 1, count: count)
    }

    mutating func root(_ item: Int) -> Int {
        var item = item
        while parent[item] != item {
            parent[item] = parent[parent[item]]
            item = parent[item]
        }
        return item
    }

    mutating func link(_ a: Int, _ b: Int, _ similarity: Float) {
        let (x, y) = (root(a), root(b))
        if x != y {
            parent[x] = y
            weakestLink[y] = min(weakestLink[x], weakestLink[y], similarity)
        } else {
            weakestLink[x] = min(weakestLink[x], similarity)
        }
    }

    mutating func weakest(of item: Int) -> Float { weakestLink[root(item)] }

    /// The groups of more than one item, each in item order.
    mutating func groups() -> [[Int]] {
        var members: [Int: [Int]] = [:]
        for item in 0..<parent.count { members[root(item), default: []].append(item) }
        return members.values.filter { $0.count > 1 }.sorted { $0[0] < $1[0] }
    }
}
