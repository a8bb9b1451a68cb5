import Compute
import Foundation

/// A partition of unit vectors into cells by spherical k-means: each cell a
/// centroid, each vector the cells whose centroids it is most similar to.
/// Near-identical vectors (cosine ≥ 0.9) are almost always in one cell or
/// in each other's nearest cells, which is what `DuplicateFinder` uses to
/// compare each vector with a few hundred others instead of all.
struct VectorCells {
    let dimension: Int
    let count: Int
    /// count × dimension, unit rows.
    let centroids: [Float]

    /// The cell count for `vectors` vectors: about 2·√n, so that comparing
    /// each vector with the members of a few cells costs about as much as
    /// assigning it (n·k·d) — √n·d per vector rather than n·d.
    static func cellCount(vectors: Int) -> Int {
        max(1, min(vectors / 8, Int((2 * Double(vectors).squareRoot()).rounded())))
    }

    /// Over centroids found before (count × dimension, unit rows).
    init(centroids: [Float], dimension: Int) {
        precondition(dimension > 0 && centroids.count % dimension == 0 && !centroids.isEmpty)
        self.dimension = dimension
        count = centroids.count / dimension
        self.centroids = centroids
    }

    /// Trains `cells` centroids on a sample of the rows of `vectors`
    /// (`rows` × `dimension`, unit rows): see the initialiser below.
    init(training vectors: UnsafeBufferPointer<Float>, rows: Int, dimension: Int, cells: Int, iterations: Int = 8,
         sampleSize: Int = 20_000, seed: UInt64 = 1) {
        self.init(rows: rows, dimension: dimension, cells: cells, iterations: iterations, sampleSize: sampleSize, seed: seed) { sample, target in
            for (row, source) in sample.enumerated() {
                (target + row * dimension).update(from: vectors.baseAddress! + source * dimension, count: dimension)
            }
        }
    }

    /// Trains `cells` centroids on a sample of `rows` unit rows, which
    /// `decode(sample, target)` writes (sample.count × dimension): spherical
    /// k-means from distinct random rows, `iterations` rounds of assigning
    /// and averaging; a cell left empty restarts from a random row.
    /// Deterministic for a seed.
    init(rows: Int, dimension: Int, cells: Int, iterations: Int = 8, sampleSize: Int = 20_000, seed: UInt64 = 1,
         decode: ([Int], UnsafeMutablePointer<Float>) -> Void) {
        precondition(rows > 0 && cells > 0 && cells <= rows)
        self.dimension = dimension
        count = cells
        var generator = Mix64(seed)
        // The sample: distinct rows (a partial Fisher–Yates shuffle).
        var order = Array(0..<rows)
        let sampled = min(rows, max(sampleSize, cells))
        for index in 0..<sampled {
            order.swapAt(index, index + Int(generator.next() % UInt64(rows - index)))
        }
        var sampleRows = [Float](repeating: 0, count: sampled * dimension)
        sampleRows.withUnsafeMutableBufferPointer { decode(Array(order.prefix(sampled)), $0.baseAddress!) }
        var centroids = [Float](repeating: 0, count: cells * dimension)
        for cell in 0..<cells {
            for k in 0..<dimension { centroids[cell * dimension + k] = sampleRows[cell * dimension + k] }
        }
        for _ in 0..<iterations {
            let nearest = sampleRows.withUnsafeBufferPointer {
                Self.nearest($0, rows: sampled, dimension: dimension, centroids: centroids, cells: cells, probes: 1)
            }
            var sums = [Float](repeating: 0, count: cells * dimension)
            var sizes = [Int](repeating: 0, count: cells)
            for row in 0..<sampled {
                let cell = Int(nearest[row])
                sizes[cell] += 1
                for k in 0..<dimension { sums[cell * dimension + k] += sampleRows[row * dimension + k] }
            }
            for cell in 0..<cells {
                var norm: Float = 0
                for k in 0..<dimension { norm += sums[cell * dimension + k] * sums[cell * dimension + k] }
                if sizes[cell] == 0 || !(norm > 0) {
                    let row = Int(generator.next() % UInt64(sampled))
                    for k in 0..<dimension { centroids[cell * dimension + k] = sampleRows[row * dimension + k] }
                } else {
                    let inverse = 1 / norm.squareRoot()
                    for k in 0..<dimension { centroids[cell * dimension + k] = sums[cell * dimension + k] * inverse }
                }
            }
        }
        self.centroids = centroids
    }

    /// For each of `rows` vectors, the `probes` cells it is most similar
    /// to, best first: rows × probes cell numbers.
    func nearest(_ vectors: UnsafeBufferPointer<Float>, rows: Int, probes: Int) -> [Int32] {
        Self.nearest(vectors, rows: rows, dimension: dimension, centroids: centroids, cells: count, probes: min(probes, count))
    }

    private static func nearest(_ vectors: UnsafeBufferPointer<Float>, rows: Int, dimension: Int, centroids: [Float], cells: Int,
                                probes: Int) -> [Int32] {
        let products = PackedMatrix(weight: centroids, outputs: cells, inputs: dimension)
        var result = [Int32](repeating: 0, count: rows * probes)
        let block = 1024
        var scores = [Float](repeating: 0, count: block * cells)
        for start in stride(from: 0, to: rows, by: block) {
            let blockRows = min(block, rows - start)
            scores.withUnsafeMutableBufferPointer { s in
                products.multiply(rows: blockRows, vectors.baseAddress! + start * dimension, lda: dimension, into: s.baseAddress!, ldc: cells)
            }
            scores.withUnsafeBufferPointer { s in
                let scores = SendablePointer(s.baseAddress!)
                result.withUnsafeMutableBufferPointer { r in
                    let result = SendableMutablePointer(r.baseAddress! + start * probes)
                    Parallel.run(Parallel.ranges(of: blockRows, work: blockRows * cells, minimumWork: 1 << 16)) { _, rows in
                        for row in rows {
                            // The best `probes`, kept sorted by insertion (probes is small).
                            var best: [(cell: Int32, score: Float)] = []
                            best.reserveCapacity(probes + 1)
                            for cell in 0..<cells {
                                let score = scores.pointer[row * cells + cell]
                                guard best.count < probes || score > best[probes - 1].score else { continue }
                                let at = best.firstIndex { score > $0.score } ?? best.count
                                best.insert((Int32(cell), score), at: at)
                                if best.count > probes { best.removeLast() }
                            }
                            for (index, entry) in best.enumerated() { result.pointer[row * probes + index] = entry.cell }
                        }
                    }
                }
            }
        }
        return result
    }
}

/// SplitMix64: a small, seedable generator, so that a partition (and so
/// which near-boundary pairs it finds) is the same run after run.
struct Mix64 {
    private var state: UInt64

    init(_ seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
