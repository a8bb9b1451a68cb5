import Compute
import Foundation
import PhotoIndex
import TestSupport

/// `photosearch-bench duplicates`: `photosearch duplicates` on synthetic
/// vectors clustered as photo embeddings are (events, and bursts of
/// near-identical shots within them), in a real index: the time of the
/// partitioned search and, up to a size, of the exact all-pairs one, and how
/// many of the exact method's duplicate pairs the partitioned one finds.
public struct DuplicatesBenchmark: Sendable {
    public struct Figures: Encodable, Sendable {
        public var vectors: Int
        public var threshold: Float
        public var seconds: Double
        public var exactSeconds: Double?
        public var groups: Int
        public var exactGroups: Int?
        /// Photo pairs linked (at least `threshold` alike), before grouping.
        public var pairs: Int
        public var exactPairs: Int?
        /// The share of the exact method's links the partition finds.
        public var recall: Double?
        /// Without the exact method: of the pairs ≥ threshold that involve
        /// `sampledPhotos` random photos (found by brute force against all),
        /// the share the partitioned method links.
        public var sampledPhotos: Int?
        public var sampledPairs: Int?
        public var sampledRecall: Double?
        public var peakResidentMegabytes: Double

        enum CodingKeys: String, CodingKey {
            case vectors, threshold, seconds, groups, pairs, recall
            case exactSeconds = "exact_seconds", exactGroups = "exact_groups", exactPairs = "exact_pairs"
            case peakResidentMegabytes = "peak_rss_mb", sampledPhotos = "sampled_photos", sampledPairs = "sampled_pairs"
            case sampledRecall = "sampled_recall"
        }
    }

    public var vectors: Int
    public var dimension = 512
    public var threshold: Float = 0.95
    /// The exact method is timed up to this many vectors (it grows as n²).
    public var exactUpTo = 100_000
    public var folder: String

    public init(vectors: Int, folder: String) {
        self.vectors = vectors
        self.folder = folder
    }

    /// The synthetic library: `ClusteredVectors` (events of ~200 photos)
    /// with 30 % of the rows near-copies of a shot just before (bursts:
    /// cosine 0.93–0.99 to it, many pairs near the threshold). Each row is
    /// computed from its number, so ten million are written and checked a
    /// block at a time.
    var source: ClusteredVectors { ClusteredVectors(count: vectors, dimension: dimension, seed: 11, bursts: 0.3) }

    /// Pairs ≥ threshold of `sample` random photos with any photo, by brute
    /// force over the vectors as the index holds them (float16, normalised),
    /// and how many of them `linked(row, row)` says were found.
    func sampledRecall(sample: Int = 2000, linked: (Int, Int) -> Bool) -> (pairs: Int, found: Int) {
        let source = self.source, dimension = self.dimension
        // Rows as the index holds them: float16, then normalised.
        func stored(_ range: Range<Int>, into target: UnsafeMutablePointer<Float>) {
            source.rows(range, into: target)
            for row in 0..<range.count {
                var norm: Float = 0
                for k in 0..<dimension {
                    let value = Float(Float16(target[row * dimension + k]))
                    target[row * dimension + k] = value
                    norm += value * value
                }
                for k in 0..<dimension { target[row * dimension + k] /= norm.squareRoot() }
            }
        }
        var generator = SplitMix64(seed: 77)
        let sampled = (0..<sample).map { _ in Int(generator.next() % UInt64(vectors)) }
        var queries = [Float](repeating: 0, count: sample * dimension)
        for (index, row) in sampled.enumerated() {
            queries.withUnsafeMutableBufferPointer { stored(row..<(row + 1), into: $0.baseAddress! + index * dimension) }
        }
        let products = PackedMatrix(weight: queries, outputs: sample, inputs: dimension)
        let block = 8192
        var rows = [Float](repeating: 0, count: block * dimension)
        var scores = [Float](repeating: 0, count: block * sample)
        var total = 0, found = 0
        for start in stride(from: 0, to: vectors, by: block) {
            let range = start..<min(vectors, start + block)
            rows.withUnsafeMutableBufferPointer { r in
                stored(range, into: r.baseAddress!)
                scores.withUnsafeMutableBufferPointer { s in
                    products.multiply(rows: range.count, r.baseAddress!, lda: dimension, into: s.baseAddress!, ldc: sample)
                }
            }
            for other in range {
                for (index, row) in sampled.enumerated() where other != row && scores[(other - start) * sample + index] >= threshold {
                    total += 1
                    if linked(row, other) { found += 1 }
                }
            }
        }
        return (total, found)
    }

    public func run(log: (String) -> Void) throws -> Figures {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let modelPath = folder + "/vit-b-32-text"
        if !RandomModel.isWritten(modelPath) {
            log("writing a random vit-b-32 text tower to \(modelPath)")
            var configuration = try RandomModel.configuration(shape: "vit-b-32")
            configuration.embeddingSize = dimension
            try RandomCheckpoint.write(configuration, towers: .text, to: modelPath)
        }
        let databasePath = folder + "/duplicates-v2-\(vectors)x\(dimension).sqlite"
        let marker = databasePath + ".done"
        if !FileManager.default.fileExists(atPath: marker) {
            log("writing \(vectors) clustered vectors into \(databasePath)")
            for suffix in ["", "-wal", "-shm", ".vectors", ".lock"] { try? FileManager.default.removeItem(atPath: databasePath + suffix) }
            let source = self.source
            try SyntheticIndex.insertPhotos(into: PhotoLibrary(database: databasePath, model: modelPath), rows: vectors,
                                            dimension: dimension, precision: .int8,
                                            path: SearchBenchmark.photoPath) { range, target in source.rows(range, into: target) }
            _ = FileManager.default.createFile(atPath: marker, contents: nil)
        }
        let library = PhotoLibrary(database: databasePath, model: nil)
        func key(_ a: Int64, _ b: Int64) -> UInt64 { UInt64(min(a, b)) << 32 | UInt64(max(a, b)) }
        var groups: [DuplicateGroup] = []
        var links = Set<UInt64>()
        let seconds = try Measure.milliseconds {
            let found = try library.duplicatesAndLinks(threshold: threshold)
            groups = found.groups
            links = Set(found.links.map { key($0.0, $0.1) })
        } / 1000
        log("partitioned: \(String(format: "%.2f", seconds)) s, \(groups.count) groups, \(links.count) linked pairs")
        // Photo ids are rows + 1 (a fresh table): a group's first two photos are linked.
        if let group = groups.first {
            let rows = group.paths.prefix(2).map { Int64($0.dropFirst("/photos/".count).prefix(7))! }
            precondition(links.contains(key(rows[0] + 1, rows[1] + 1)), "photo ids are not rows + 1")
        }
        var figures = Figures(vectors: vectors, threshold: threshold, seconds: Measure.rounded(seconds, decimals: 3), exactSeconds: nil,
                              groups: groups.count, exactGroups: nil, pairs: links.count, exactPairs: nil, recall: nil,
                              peakResidentMegabytes: 0)
        if vectors <= exactUpTo {
            var exact: (groups: [DuplicateGroup], links: [(Int64, Int64)]) = ([], [])
            let exactSeconds = try Measure.milliseconds { exact = try library.duplicatesAndLinks(threshold: threshold, exact: true) } / 1000
            figures.exactSeconds = Measure.rounded(exactSeconds, decimals: 3)
            figures.exactGroups = exact.groups.count
            figures.exactPairs = exact.links.count
            let found = exact.links.filter { links.contains(key($0.0, $0.1)) }.count
            figures.recall = Measure.rounded(Double(found) / Double(max(1, exact.links.count)), decimals: 5)
        }
        figures.peakResidentMegabytes = Measure.rounded(Measure.peakResidentMegabytes(), decimals: 0)
        if vectors > exactUpTo {
            log("sampled recall: brute force for 2 000 photos against all")
            let (total, found) = sampledRecall { a, b in links.contains(key(Int64(a + 1), Int64(b + 1))) }
            figures.sampledPhotos = 2000
            figures.sampledPairs = total
            figures.sampledRecall = Measure.rounded(Double(found) / Double(max(1, total)), decimals: 5)
        }
        return figures
    }
}
