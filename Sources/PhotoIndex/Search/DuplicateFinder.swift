import CKernels
import CLIP
import Dispatch
import Foundation

/// Groups of near-identical photos: every pair whose vectors have cosine ≥
/// threshold is linked, and linked photos form a group (union-find). All pairs
/// are compared exactly, as blocks of matrix products (the packed AVX2 kernel).
public struct DuplicateFinder {
    public struct Group: Sendable, Equatable {
        public var paths: [String]
        /// The lowest similarity among the links that formed the group.
        public var similarity: Float
    }

    public let searcher: PhotoSearcher

    public init(searcher: PhotoSearcher) {
        self.searcher = searcher
    }

    public func groups(threshold: Float) throws(PhotoIndexError) -> [Group] {
        let entries = try searcher.allVectors()
        let count = entries.count, dimension = searcher.model.embeddingSize
        guard count > 1 else { return [] }
        var matrix = [Float](repeating: 0, count: count * dimension)
        for (row, entry) in entries.enumerated() where entry.vector.count == dimension {
            let unit = CLIPModel.normalized(entry.vector)
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
        let products = PackedProducts(matrix: matrix, rows: count, columns: dimension)
        for start in stride(from: 0, to: count, by: block) {
            let rows = min(block, count - start)
            // similarities[r][c] = ⟨v_start+r, v_c⟩; only c > start + r matters.
            matrix.withUnsafeBufferPointer { m in
                similarities.withUnsafeMutableBufferPointer { s in
                    products.multiply(m.baseAddress! + start * dimension, rows: rows, into: s.baseAddress!)
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
            Group(paths: items.compactMap { pathByID[ids[$0]] }.sorted(), similarity: weakest[root])
        }.sorted { $0.paths.first ?? "" < $1.paths.first ?? "" }
    }
}

/// A × Mᵀ for a fixed matrix M (`rows × columns`), packed once for the AVX2
/// kernel and split across the cores by output panels.
struct PackedProducts: @unchecked Sendable {
    let packed: [Float]
    let rows: Int
    let columns: Int

    init(matrix: [Float], rows: Int, columns: Int) {
        self.rows = rows
        self.columns = columns
        let count = ps_packed_count(rows, columns)
        packed = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            matrix.withUnsafeBufferPointer { ps_pack_weights($0.baseAddress, rows, columns, buffer.baseAddress) }
            initialized = count
        }
    }

    /// out (`count × rows`) = a (`count × columns`) × Mᵀ.
    func multiply(_ a: UnsafePointer<Float>, rows count: Int, into out: UnsafeMutablePointer<Float>) {
        let panels = (rows + Int(PS_PANEL) - 1) / Int(PS_PANEL)
        let parts = max(1, min(ProcessInfo.processInfo.activeProcessorCount, panels))
        let perPart = (panels + parts - 1) / parts
        let pointers = Pointers(a: a, out: out)
        packed.withUnsafeBufferPointer { weights in
            let w = Pointers.Weights(pointer: weights.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                let first = part * perPart * Int(PS_PANEL)
                guard first < rows else { return }
                ps_linear_packed(pointers.a, columns, w.pointer, columns, pointers.out, rows, rows, count,
                                 first, perPart * Int(PS_PANEL), nil, 0)
            }
        }
    }

    private struct Pointers: @unchecked Sendable {
        let a: UnsafePointer<Float>
        let out: UnsafeMutablePointer<Float>
        struct Weights: @unchecked Sendable { let pointer: UnsafePointer<Float> }
    }
}
