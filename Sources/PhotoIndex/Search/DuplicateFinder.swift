import Compute
import Foundation

/// A group of near-identical photos.
public struct DuplicateGroup: Sendable, Equatable {
    public var paths: [String]
    /// The lowest similarity among the links that formed the group.
    public var similarity: Float
}

/// Groups of near-identical photos: every pair whose vectors have cosine ≥
/// threshold is linked, and linked photos form a group (union-find). All pairs
/// are compared exactly, as blocks of matrix products (`PackedMatrix`).
struct DuplicateFinder {
    let searcher: PhotoSearcher

    func groups(threshold: Float) throws(PhotoIndexError) -> [DuplicateGroup] {
        let entries = try searcher.allVectors()
        let count = entries.count, dimension = searcher.model.embeddingSize
        guard count > 1 else { return [] }
        var matrix = [Float](repeating: 0, count: count * dimension)
        for (row, entry) in entries.enumerated() where entry.vector.count == dimension {
            let unit = VectorMath.normalized(entry.vector)
            matrix.replaceSubrange((row * dimension)..<((row + 1) * dimension), with: unit)
        }
        var parent = Array(0..<count)
        var weakest = [Float](repeating: 1, count: count)
        func root(_ item: Int) -> Int {
            var item = item
            while parent[item] != item {
                parent[item] = parent[parent[item]]
                item = parent[item]
            }
            return item
        }
        let block = 256
        var similarities = [Float](repeating: 0, count: block * count)
        let products = PackedMatrix(weight: matrix, outputs: count, inputs: dimension)
        for start in stride(from: 0, to: count, by: block) {
            let rows = min(block, count - start)
            // similarities[r][c] = ⟨v_start+r, v_c⟩; only c > start + r matters.
            matrix.withUnsafeBufferPointer { m in
                similarities.withUnsafeMutableBufferPointer { s in
                    products.multiply(rows: rows, m.baseAddress! + start * dimension, lda: dimension, into: s.baseAddress!, ldc: count)
                }
            }
            for r in 0..<rows {
                let i = start + r
                for j in (i + 1)..<count where similarities[r * count + j] >= threshold {
                    let a = root(i), b = root(j)
                    let similarity = similarities[r * count + j]
                    if a != b {
                        parent[a] = b
                        weakest[b] = min(weakest[a], weakest[b], similarity)
                    } else {
                        weakest[a] = min(weakest[a], similarity)
                    }
                }
            }
        }
        var members: [Int: [Int]] = [:]
        for item in 0..<count { members[root(item), default: []].append(item) }
        members = members.filter { $0.value.count > 1 }
        let ids = entries.map(\.photoID)
        var pathByID: [Int64: String] = [:]
        let grouped = members.values.flatMap { $0 }.map { ids[$0] }
        for chunk in stride(from: 0, to: grouped.count, by: 500) {
            let slice = grouped[chunk..<min(chunk + 500, grouped.count)]
            for result in try searcher.describe(slice.map { (key: $0, value: Float(0)) }) {
                pathByID[result.photoID] = result.path
            }
        }
        return members.map { root, items in
            DuplicateGroup(paths: items.compactMap { pathByID[ids[$0]] }.sorted(), similarity: weakest[root])
        }.sorted { $0.paths.first ?? "" < $1.paths.first ?? "" }
    }
}
