import Compute
import Foundation
import Testing
import TestSupport
@testable import PhotoIndex

/// Duplicates among many photos: pairs looked for among nearby vectors
/// (cells of a spherical k-means) must be the pairs all-pairs finds.
@Suite("Duplicates: the partitioned search against all pairs")
struct DuplicateFinderTests {
    /// Clusters of unit vectors, a third of them near-copies (cosine 0.9 to
    /// 0.99) of an earlier one: many pairs around a 0.95 threshold.
    static func clustered(count: Int, dimension: Int, seed: UInt64) -> [Float] {
        var generator = SplitMix64(seed: seed)
        func gaussian() -> Float { Float((-2 * log(generator.uniform())).squareRoot() * cos(2 * .pi * generator.uniform())) }
        let clusters = max(1, count / 100)
        let centres = (0..<(clusters * dimension)).map { _ in gaussian() }
        var values = [Float](repeating: 0, count: count * dimension)
        for row in 0..<count {
            let cluster = Int(generator.next() % UInt64(clusters))
            let copy = row > 0 && generator.uniform() < 0.35
            let source = copy ? max(0, row - 1 - Int(generator.next() % 30)) : 0
            let spread = copy ? Float(0.1 + 0.4 * generator.uniform()) : 1.2
            var norm: Float = 0
            for k in 0..<dimension {
                let base = copy ? values[source * dimension + k] : centres[cluster * dimension + k] / Float(dimension).squareRoot()
                values[row * dimension + k] = base + spread * gaussian() / Float(dimension).squareRoot()
                norm += values[row * dimension + k] * values[row * dimension + k]
            }
            for k in 0..<dimension { values[row * dimension + k] /= norm.squareRoot() }
        }
        return values
    }

    func groups(_ vectors: [Float], dimension: Int, threshold: Float, exact: Bool) -> ([[Int]], [Float]) {
        let rows = HalfRows(floats: vectors, dimension: dimension)
        var links = Links(count: rows.count)
        if exact {
            DuplicateFinder.allPairs(rows, threshold: threshold, links: &links)
        } else {
            DuplicateFinder.nearbyPairs(rows, threshold: threshold, probes: DuplicateFinder.probes, links: &links)
        }
        let groups = links.groups()
        return (groups.map(\.members), groups.map(\.similarity))
    }

    @Test("all pairs, in tiles across their edges (4 500 rows: two column tiles, 18 row tiles), link what a double loop links")
    func allPairsTiles() {
        let dimension = 16, threshold: Float = 0.9
        let vectors = Self.clustered(count: 4500, dimension: dimension, seed: 21)
        let rows = HalfRows(floats: vectors, dimension: dimension)
        let unit = rows.decoded(0..<rows.count)
        var expected = Links(count: rows.count)
        var pairs = 0
        for i in 0..<rows.count {
            for j in (i + 1)..<rows.count {
                var dot: Float = 0
                for k in 0..<dimension { dot += unit[i * dimension + k] * unit[j * dimension + k] }
                if dot >= threshold { expected.link(i, j, dot); pairs += 1 }
            }
        }
        var links = Links(count: rows.count)
        DuplicateFinder.allPairs(rows, threshold: threshold, links: &links)
        let groups = links.groups(), expectedGroups = expected.groups()
        #expect(pairs > 1000 && groups.contains { $0.members.contains { $0 >= 4096 } && $0.members.contains { $0 < 4096 } },
                "pairs must straddle the tiles' edges")
        #expect(groups.map(\.members) == expectedGroups.map(\.members))
        for (group, other) in zip(groups, expectedGroups) { #expect(abs(group.similarity - other.similarity) < 1e-5) }
    }

    @Test("a threshold linking more pairs than Links holds stops the search at once, and is refused", arguments: [true, false])
    func tooManyLinks(exact: Bool) {
        let dimension = 16
        let rows = HalfRows(floats: Self.clustered(count: 3000, dimension: dimension, seed: 3), dimension: dimension)
        // Every pair is at least -1 alike: 4.5 million of them.
        var links = Links(count: rows.count, capacity: 10_000)
        if exact {
            DuplicateFinder.allPairs(rows, threshold: -1, links: &links)
        } else {
            DuplicateFinder.nearbyPairs(rows, threshold: -1, probes: DuplicateFinder.probes, links: &links)
        }
        #expect(links.full && links.pairs.count == 10_000)
        // Below the capacity, nothing is refused.
        var fewer = Links(count: rows.count, capacity: 10_000)
        DuplicateFinder.allPairs(rows, threshold: 0.9, links: &fewer)
        #expect(!fewer.full && fewer.pairs.count > 0 && fewer.pairs.count < 10_000)
    }

    @Test("identical vectors are alike 1 whatever float32 rounds their product to: --threshold 1 finds every copy", arguments: [true, false])
    func identicalVectors(exact: Bool) {
        let dimension = 512
        var vectors = Self.clustered(count: 3000, dimension: dimension, seed: 5)
        // Rows 100 ... 139 copied once each to the end, row 7 three times.
        let copied = Array(100..<140) + [7, 7, 7]
        for row in copied { vectors += vectors[(row * dimension)..<((row + 1) * dimension)] }
        let (groups, similarities) = groups(vectors, dimension: dimension, threshold: 1, exact: exact)
        var expected = (100..<140).enumerated().map { [$0.element, 3000 + $0.offset] }
        expected.append([7, 3040, 3041, 3042])
        #expect(Set(groups) == Set(expected), "\(groups.count) groups")
        #expect(similarities.allSatisfy { $0 == 1 })
    }

    @Test("a chain is not a group: every two photos of a group are linked, the best-connected photo first")
    func chains() {
        // 0–1–2–3 a chain (each like the next), 4 and 5 like each other and
        // 0; 6–7–8 all alike; 9 alone.
        var links = Links(count: 10)
        for (a, b, similarity) in [(0, 1, 0.97), (1, 2, 0.96), (2, 3, 0.99), (4, 5, 0.98), (0, 4, 0.955), (0, 5, 0.96),
                                   (6, 7, 0.99), (7, 8, 0.98), (6, 8, 0.97)] as [(Int, Int, Float)] {
            links.link(a, b, similarity)
            links.link(b, a, similarity)   // found from both ends: once
        }
        let groups = links.groups()
        // 0 has the most links (1, 4, 5): with 5 (0.96) and 4 (linked to 5),
        // not 1 (not linked to 4); then 1–2 and 2–3 tie on links, 2 has
        // the higher sum: with 3 (0.99); 1 is left alone.
        #expect(groups.map(\.members) == [[0, 4, 5], [2, 3], [6, 7, 8]])
        #expect(groups.map(\.similarity) == [0.955, 0.99, 0.97])
        #expect(links.similarity(5, 0) == 0.96 && links.similarity(1, 3) == nil)
    }

    @Test("float16 rows decode to the unit vectors of what the index stores")
    func halfRows() {
        let vectors: [Float] = [3, 4, 0, 0, 0.1, 0.2, 0.3, -0.4]
        let rows = HalfRows(floats: vectors, dimension: 4)
        #expect(rows.count == 2)
        let unit = rows.decoded([1, 0])
        #expect(Array(unit[4..<8]) == [0.6, 0.8, 0, 0])
        let second = vectors[4..<8].map { Float(Float16($0)) }
        let norm = second.reduce(0) { $0 + $1 * $1 }.squareRoot()
        for k in 0..<4 { #expect(abs(unit[k] - second[k] / norm) < 1e-6) }
    }

    @Test("the partition finds every group all pairs find, with the same weakest link", arguments: [0.9, 0.95, 0.98] as [Float])
    func sameGroups(threshold: Float) {
        let dimension = 64
        let vectors = Self.clustered(count: 6000, dimension: dimension, seed: 3)
        let exact = groups(vectors, dimension: dimension, threshold: threshold, exact: true)
        let nearby = groups(vectors, dimension: dimension, threshold: threshold, exact: false)
        #expect(exact.0.count > 300, "the data must have duplicates to find")
        #expect(nearby.0 == exact.0)
        for (a, b) in zip(nearby.1, exact.1) { #expect(abs(a - b) < 1e-5) }
    }

    @Test("cells: each vector's first cell is the centroid it is most similar to, and training is deterministic")
    func cells() {
        let dimension = 32, count = 3000
        let vectors = Self.clustered(count: count, dimension: dimension, seed: 9)
        let (cells, again) = vectors.withUnsafeBufferPointer { v in
            (VectorCells(training: v, rows: count, dimension: dimension, cells: VectorCells.cellCount(vectors: count), sampleSize: 1000),
             VectorCells(training: v, rows: count, dimension: dimension, cells: VectorCells.cellCount(vectors: count), sampleSize: 1000))
        }
        #expect(cells.count == VectorCells.cellCount(vectors: count) && cells.centroids == again.centroids)
        let nearest = vectors.withUnsafeBufferPointer { cells.nearest($0, rows: count, probes: 3) }
        for row in stride(from: 0, to: count, by: 7) {
            var scores: [(Int, Float)] = []
            for cell in 0..<cells.count {
                var dot: Float = 0
                for k in 0..<dimension { dot += vectors[row * dimension + k] * cells.centroids[cell * dimension + k] }
                scores.append((cell, dot))
            }
            let best = scores.max { $0.1 < $1.1 }!
            let chosen = scores[Int(nearest[row * 3])].1
            #expect(abs(chosen - best.1) < 1e-4, "row \(row)")
            #expect(Set(nearest[(row * 3)..<(row * 3 + 3)]).count == 3)
        }
    }

    @Test("through the library: 20 000+ photos take the partitioned path; --exact gives the same groups")
    func library() throws {
        let workspace = try Workspace()
        let dimension = 48, count = DuplicateFinder.partitionFrom + 500
        let library = PhotoLibrary(database: workspace.databasePath, model: Fixture.modelPath)
        try SyntheticIndex.insertPhotos(into: library, vectors: Self.clustered(count: count, dimension: dimension, seed: 5),
                                        dimension: dimension, precision: .int8, path: { String(format: "/photos/%06d.jpg", $0) })
        let partitioned = try library.duplicates(threshold: 0.95)
        let exact = try library.duplicates(threshold: 0.95, exact: true)
        #expect(partitioned.count > 1000)
        #expect(partitioned.map(\.paths) == exact.map(\.paths))
        for (a, b) in zip(partitioned, exact) { #expect(abs(a.similarity - b.similarity) < 1e-5) }
    }
}
