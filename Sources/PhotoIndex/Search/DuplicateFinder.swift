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
/// Up to `partitionFrom` photos, or with `exact`, or for a threshold below
/// `partitionThreshold`, all pairs are compared, as blocks of matrix
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
        let (ids, matrix) = try searcher.allUnitVectors()
        let count = ids.count, dimension = searcher.model.embeddingSize
        guard count > 1 else { return [] }
        var links = Links(count: count)
        matrix.withUnsafeBufferPointer { vectors in
            if exact || count < Self.partitionFrom || threshold < Self.partitionThreshold {
                Self.allPairs(vectors, count: count, dimension: dimension, threshold: threshold, links: &links)
            } else {
                Self.nearbyPairs(vectors, count: count, dimension: dimension, threshold: threshold, probes: Self.probes, links: &links)
            }
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

    /// Every pair, in blocks of 256 rows against all.
    static func allPairs(_ vectors: UnsafeBufferPointer<Float>, count: Int, dimension: Int, threshold: Float, links: inout Links) {
        let block = 256
        var similarities = [Float](repeating: 0, count: block * count)
        let products = PackedMatrix(packing: vectors, outputs: count, inputs: dimension)
        for start in stride(from: 0, to: count, by: block) {
            let rows = min(block, count - start)
            // similarities[r][c] = ⟨v_start+r, v_c⟩; only c > start + r matters.
            similarities.withUnsafeMutableBufferPointer { s in
                products.multiply(rows: rows, vectors.baseAddress! + start * dimension, lda: dimension, into: s.baseAddress!, ldc: count)
            }
            for r in 0..<rows {
                let i = start + r
                for j in (i + 1)..<count where similarities[r * count + j] >= threshold {
                    links.link(i, j, similarities[r * count + j])
                }
            }
        }
    }

    /// Each vector against the members of its `probes` nearest cells.
    static func nearbyPairs(_ vectors: UnsafeBufferPointer<Float>, count: Int, dimension: Int, threshold: Float, probes: Int,
                            links: inout Links) {
        let cells = VectorCells(training: vectors, rows: count, dimension: dimension, cells: VectorCells.cellCount(vectors: count))
        let probes = min(probes, cells.count)
        let nearest = cells.nearest(vectors, rows: count, probes: probes)
        // Members (by nearest cell) and queries (by any of the probed
        // cells) of each cell, as offsets into one list each.
        func grouped(_ cellOf: (Int) -> [Int32]) -> (starts: [Int], items: [Int32]) {
            var starts = [Int](repeating: 0, count: cells.count + 1)
            for item in 0..<count { for cell in cellOf(item) { starts[Int(cell) + 1] += 1 } }
            for cell in 0..<cells.count { starts[cell + 1] += starts[cell] }
            var next = starts
            var items = [Int32](repeating: 0, count: starts[cells.count])
            for item in 0..<count {
                for cell in cellOf(item) {
                    items[next[Int(cell)]] = Int32(item)
                    next[Int(cell)] += 1
                }
            }
            return (starts, items)
        }
        let members = grouped { [nearest[$0 * probes]] }
        let queries = grouped { Array(nearest[($0 * probes)..<(($0 + 1) * probes)]) }

        var memberRows: [Float] = [], queryRows: [Float] = [], scores: [Float] = []
        for cell in 0..<cells.count {
            let inCell = members.items[members.starts[cell]..<members.starts[cell + 1]]
            guard !inCell.isEmpty else { continue }
            memberRows.removeAll(keepingCapacity: true)
            for member in inCell { memberRows += vectors[(Int(member) * dimension)..<((Int(member) + 1) * dimension)] }
            let products = memberRows.withUnsafeBufferPointer { PackedMatrix(packing: $0, outputs: inCell.count, inputs: dimension) }
            let asking = queries.items[queries.starts[cell]..<queries.starts[cell + 1]]
            // Queries in blocks that keep the scores within ~16 MB.
            let block = max(16, (4 << 20) / inCell.count)
            var start = asking.startIndex
            while start < asking.endIndex {
                let end = min(start + block, asking.endIndex)
                queryRows.removeAll(keepingCapacity: true)
                for query in asking[start..<end] { queryRows += vectors[(Int(query) * dimension)..<((Int(query) + 1) * dimension)] }
                let rows = end - start
                if scores.count < rows * inCell.count { scores = [Float](repeating: 0, count: rows * inCell.count) }
                queryRows.withUnsafeBufferPointer { q in
                    scores.withUnsafeMutableBufferPointer { s in
                        products.multiply(rows: rows, q.baseAddress!, lda: dimension, into: s.baseAddress!, ldc: inCell.count)
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
