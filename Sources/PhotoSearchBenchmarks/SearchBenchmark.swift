import CLIP
import Compute
import Dispatch
import Foundation
import Imaging
import PhotoIndex
import TestSupport

/// `photosearch-bench search`: synthetic unit vectors in a real index
/// database, searched in process (the vector search alone), and through the
/// whole `photosearch search` command as a child process (process start,
/// model loading, text encoding with a ViT-B/32-shaped text tower, search,
/// output), with recall@10 against an exact float32 brute force.
public struct SearchBenchmark: Sendable {
    public struct Figures: Encodable, Sendable {
        public var vectors: Int
        public var dimension: Int
        public var searchP50: Double
        public var searchP95: Double
        public var commandP50: Double?
        public var commandP95: Double?
        /// The first command, which prepares the text tower.
        public var commandFirst: Double?
        /// `photosearch serve`: GET /api/search of a text not asked before
        /// (encoding included), its next page (the text remembered), and a
        /// thumbnail.
        public var serveSearchP50: Double?
        public var serveSearchP95: Double?
        public var serveNextPageP50: Double?
        public var serveThumbnailP50: Double?
        public var recallAt10: Double
        /// The search at other probe counts (a partitioned index only).
        public var probeSettings: [ProbeSetting] = []
        /// The partition's cells (0: every search scans every vector).
        public var cells: Int
        public var data: String
        /// Of one whole `photosearch search` command (cold: its own process).
        public var commandPeakResidentMegabytes: Double?
        public var vectorFileSeconds: Double
        /// The index file, and the rows and index entries SQLite keeps in it.
        public var databaseBytes: Int64
        public var payloadBytes: Int64

        private enum Keys: String, CodingKey {
            case vectors, dim, searchP50 = "search_p50_ms", searchP95 = "search_p95_ms", commandP50 = "cli_p50_ms"
            case commandP95 = "cli_p95_ms", commandFirst = "cli_first_ms", recall = "recall_at_10", vectorFile = "vector_file_seconds"
            case databaseBytes = "database_bytes", bytesPerPhoto = "database_bytes_per_photo", overhead = "database_overhead"
            case serveSearchP50 = "serve_search_p50_ms", serveSearchP95 = "serve_search_p95_ms", serveThumbnailP50 = "serve_thumbnail_p50_ms"
            case serveNextPageP50 = "serve_next_page_p50_ms"
            case probeSettings = "probes", cells, data, commandPeak = "cli_peak_rss_mb"
        }

        public func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(vectors, forKey: .vectors)
            try container.encode(dimension, forKey: .dim)
            try container.encode(data, forKey: .data)
            try container.encode(cells, forKey: .cells)
            try container.encode(probeSettings, forKey: .probeSettings)
            try container.encode(commandPeakResidentMegabytes.map { Measure.rounded($0, decimals: 0) }, forKey: .commandPeak)
            try container.encode(Measure.rounded(searchP50, decimals: 3), forKey: .searchP50)
            try container.encode(Measure.rounded(searchP95, decimals: 3), forKey: .searchP95)
            try container.encode(commandP50.map { Measure.rounded($0, decimals: 1) }, forKey: .commandP50)
            try container.encode(commandP95.map { Measure.rounded($0, decimals: 1) }, forKey: .commandP95)
            try container.encode(commandFirst.map { Measure.rounded($0, decimals: 1) }, forKey: .commandFirst)
            try container.encode(serveSearchP50.map { Measure.rounded($0, decimals: 2) }, forKey: .serveSearchP50)
            try container.encode(serveSearchP95.map { Measure.rounded($0, decimals: 2) }, forKey: .serveSearchP95)
            try container.encode(serveNextPageP50.map { Measure.rounded($0, decimals: 2) }, forKey: .serveNextPageP50)
            try container.encode(serveThumbnailP50.map { Measure.rounded($0, decimals: 3) }, forKey: .serveThumbnailP50)
            try container.encode(databaseBytes, forKey: .databaseBytes)
            try container.encode(Measure.rounded(Double(databaseBytes) / Double(max(vectors, 1)), decimals: 1), forKey: .bytesPerPhoto)
            try container.encode(Measure.rounded(Double(databaseBytes) / Double(max(payloadBytes, 1)) - 1, decimals: 3), forKey: .overhead)
            try container.encode(Measure.rounded(recallAt10, decimals: 4), forKey: .recall)
            try container.encode(Measure.rounded(vectorFileSeconds), forKey: .vectorFile)
        }
    }

    /// One probe count's figures.
    public struct ProbeSetting: Encodable, Sendable {
        public var probes: Int
        public var searchP50: Double
        public var searchP95: Double
        public var recallAt10: Double

        enum CodingKeys: String, CodingKey {
            case probes, searchP50 = "search_p50_ms", searchP95 = "search_p95_ms", recallAt10 = "recall_at_10"
        }
    }

    /// What the vectors look like: `clustered` (`ClusteredVectors`, as real
    /// embeddings are) or `uniform` (random directions).
    public enum DataKind: String, Sendable, CaseIterable {
        case clustered, uniform
    }

    public var vectors: Int
    public var dimension: Int
    public var data = DataKind.clustered
    /// Probe counts measured besides the standard choice.
    public var probes: [Int] = []
    /// Kept between runs: the index, the model and the queries.
    public var folder: String
    public var queries = 100
    /// Search the vector file already there (written by an earlier run) instead of writing it afresh.
    public var keepVectorFile = false
    public var commandRuns = 20

    /// The random text tower's shape (`EncoderBenchmark.shapes`); a SigLIP
    /// one sets the embedding dimension.
    public var shape = "vit-b-32"

    public init(vectors: Int, dimension: Int, folder: String) {
        self.vectors = vectors
        self.dimension = dimension
        self.folder = folder
    }

    public var databasePath: String { folder + "/index.sqlite" }
    public var modelPath: String { folder + "/\(shape)-text" }
    /// The queries as float32 rows, for scripts/bench-search-peers.py.
    public var queriesPath: String { folder + "/queries.f32" }

    static func photoPath(_ row: Int) -> String { String(format: "/photos/%07d.jpg", row) }

    /// Row and query vectors of the kind asked for, a block at a time.
    struct Source: Sendable {
        let kind: DataKind
        let dimension: Int
        let clustered: ClusteredVectors?

        init(kind: DataKind, count: Int, dimension: Int) {
            self.kind = kind
            self.dimension = dimension
            clustered = kind == .clustered ? ClusteredVectors(count: count, dimension: dimension, seed: 1) : nil
        }

        func rows(_ range: Range<Int>, into target: UnsafeMutablePointer<Float>) {
            if let clustered { return clustered.rows(range, into: target) }
            let base = SendableMutablePointer(target), dimension = dimension
            Parallel.run(Parallel.ranges(of: range.count, work: range.count * dimension, minimumWork: 1 << 16)) { _, part in
                for offset in part {
                    SearchBenchmark.unitVector(seed: 1 &+ UInt64(range.lowerBound + offset) &* 0x9E37_79B9_7F4A_7C15,
                                               dimension: dimension, into: base.pointer + offset * dimension)
                }
            }
        }

        func queries(_ count: Int) -> [Float] {
            var values = [Float](repeating: 0, count: count * dimension)
            values.withUnsafeMutableBufferPointer { buffer in
                for query in 0..<count {
                    if let clustered {
                        clustered.query(query, into: buffer.baseAddress! + query * dimension)
                    } else {
                        SearchBenchmark.unitVector(seed: 99 &+ UInt64(query) &* 0xD1B5_4A32_D192_ED03, dimension: dimension,
                                                   into: buffer.baseAddress! + query * dimension)
                    }
                }
            }
            return values
        }
    }

    /// `count` deterministic unit vectors (rows).
    static func unitVectors(count: Int, dimension: Int, seed: UInt64) -> [Float] {
        var values = [Float](repeating: 0, count: count * dimension)
        values.withUnsafeMutableBufferPointer { buffer in
            for row in 0..<count {
                unitVector(seed: seed &+ UInt64(row) &* 0x9E37_79B9_7F4A_7C15, dimension: dimension, into: buffer.baseAddress! + row * dimension)
            }
        }
        return values
    }

    /// A deterministic unit vector (a Gaussian direction).
    static func unitVector(seed: UInt64, dimension: Int, into vector: UnsafeMutablePointer<Float>) {
        var generator = SplitMix64(seed: seed)
        var norm = 0.0
        for k in 0..<dimension {
            let value = generator.normal()
            vector[k] = Float(value)
            norm += value * value
        }
        let inverse = Float(1 / norm.squareRoot())
        for k in 0..<dimension { vector[k] *= inverse }
    }

    /// Writes what is missing (the model folder, the index) and measures;
    /// `executable` is the photosearch binary to time as a whole command.
    public func run(executable: String?, log: (String) -> Void) throws -> Figures {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        if !RandomModel.isWritten(modelPath) {
            var configuration = try RandomModel.configuration(shape: shape)
            log("writing a random \(shape) text tower to \(modelPath)")
            if configuration.vision.architecture == .clip { configuration.embeddingSize = dimension }
            guard configuration.embeddingSize == dimension else {
                throw BenchmarkError.invalidArgument("\(shape) embeds in \(configuration.embeddingSize) dimensions, not \(dimension)")
            }
            try RandomCheckpoint.write(configuration, towers: .text, to: modelPath)
        }
        let source = Source(kind: data, count: vectors, dimension: dimension)
        let marker = folder + "/index-\(data.rawValue)-\(vectors)x\(dimension).done"
        if !FileManager.default.fileExists(atPath: marker) {
            log("writing \(vectors) \(data.rawValue) vectors of \(dimension) dimensions into \(databasePath)")
            for suffix in ["", "-wal", "-shm", ".vectors", ".lock"] { try? FileManager.default.removeItem(atPath: databasePath + suffix) }
            try? FileManager.default.removeItem(atPath: folder + "/index-done")
            for other in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where other.hasSuffix(".done") {
                try? FileManager.default.removeItem(atPath: folder + "/" + other)
            }
            try SyntheticIndex.insertPhotos(into: PhotoLibrary(database: databasePath, model: modelPath), rows: vectors, dimension: dimension,
                                            precision: .int8, path: Self.photoPath) { range, target in source.rows(range, into: target) }
            _ = FileManager.default.createFile(atPath: marker, contents: nil)
        }

        // In-process searches; the library (and its hold on the index) is
        // released before whole commands are timed, which open the index
        // cold, as a user's shell does.
        var times: [Double] = []
        var found = 0
        var settings: [ProbeSetting] = []
        let buildSeconds: Double
        let cells: Int
        do {
            let library = PhotoLibrary(database: databasePath, model: modelPath)
            // The vector file written afresh, as the first search after an
            // index run writes it (that search's own time is a few ms of it).
            if !keepVectorFile { SyntheticIndex.removeVectorFile(of: library) }
            log(keepVectorFile ? "opening the vector file (written if missing or stale)" : "writing the vector file")
            let buildStart = DispatchTime.now().uptimeNanoseconds
            _ = try library.search(vector: [Float](repeating: 1, count: dimension), PhotoLibrary.SearchOptions(top: 1))
            buildSeconds = Measure.seconds(since: buildStart)
            cells = try library.status().vectorCells ?? 0
            log("written in \(String(format: "%.1f", buildSeconds)) s, \(cells) cells; exact top 10 of \(queries) queries")

            let queryData = source.queries(queries)
            try queryData.withUnsafeBufferPointer { Data(buffer: $0) }.write(to: URL(fileURLWithPath: queriesPath))
            let truth = Self.exactTop10(queries: queryData, rows: vectors, dimension: dimension, source: source)
            func measure(probes: Int?) throws -> (times: [Double], found: Int) {
                var times: [Double] = [], found = 0
                for query in 0..<queries {
                    let vector = Array(queryData[(query * dimension)..<((query + 1) * dimension)])
                    var results: [SearchHit] = []
                    times.append(try Measure.milliseconds {
                        results = try library.search(vector: vector, PhotoLibrary.SearchOptions(top: 10, probes: probes))
                    })
                    let expected = Set(truth[query].map(Self.photoPath))
                    found += results.filter { expected.contains($0.path) }.count
                }
                return (times, found)
            }
            (times, found) = try measure(probes: nil)
            if cells > 0 {
                for count in probes {
                    let (times, found) = try measure(probes: count)
                    settings.append(ProbeSetting(probes: count, searchP50: Measure.rounded(Measure.percentile(times, 0.5), decimals: 3),
                                                 searchP95: Measure.rounded(Measure.percentile(times, 0.95), decimals: 3),
                                                 recallAt10: Measure.rounded(Double(found) / Double(queries * 10), decimals: 4)))
                    log("probes \(count): p50 \(settings.last!.searchP50) ms, recall@10 \(settings.last!.recallAt10)")
                }
            }
        }

        var command: [Double] = []
        var first: Double?
        var peak: Double?
        if let executable {
            // The command's own cache folder, emptied: the first run prepares
            // the text tower there, as a user's first search does.
            let cache = folder + "/cache"
            try? FileManager.default.removeItem(atPath: cache)
            var environment = ProcessInfo.processInfo.environment
            environment["XDG_CACHE_HOME"] = cache
            let captions = ["a dog running on the beach at sunset", "a cat asleep on a sofa", "snowy mountains",
                            "birthday cake with candles", "a red bicycle against a wall", "city lights at night"]
            for index in 0...commandRuns {
                let arguments = ["search", captions[index % captions.count], "--db", databasePath, "--model", modelPath, "--paths"]
                guard let usage = Measure.child(executable, arguments, environment: environment) else {
                    throw BenchmarkError.incompleteRun("\(executable) \(arguments.joined(separator: " ")) failed")
                }
                if index == 0 { first = usage.seconds * 1000 } else { command.append(usage.seconds * 1000) }
                peak = max(peak ?? 0, usage.peakResidentMegabytes)
            }
        }
        // Measured before the server's benchmark adds thumbnails.
        let storage = try SyntheticIndex.storage(of: databasePath)
        var serve: (search: [Double], nextPage: [Double], thumbnail: [Double]) = ([], [], [])
        if let executable {
            serve = try serveTimes(executable: executable, library: PhotoLibrary(database: databasePath, model: modelPath))
        }
        return Figures(vectors: vectors, dimension: dimension,
                       searchP50: Measure.percentile(times, 0.5), searchP95: Measure.percentile(times, 0.95),
                       commandP50: command.isEmpty ? nil : Measure.percentile(command, 0.5),
                       commandP95: command.isEmpty ? nil : Measure.percentile(command, 0.95), commandFirst: first,
                       serveSearchP50: serve.search.isEmpty ? nil : Measure.percentile(serve.search, 0.5),
                       serveSearchP95: serve.search.isEmpty ? nil : Measure.percentile(serve.search, 0.95),
                       serveNextPageP50: serve.nextPage.isEmpty ? nil : Measure.percentile(serve.nextPage, 0.5),
                       serveThumbnailP50: serve.thumbnail.isEmpty ? nil : Measure.percentile(serve.thumbnail, 0.5),
                       recallAt10: Double(found) / Double(queries * 10), probeSettings: settings, cells: cells, data: data.rawValue,
                       commandPeakResidentMegabytes: peak, vectorFileSeconds: buildSeconds,
                       databaseBytes: storage.fileBytes, payloadBytes: storage.payloadBytes)
    }

    /// Starts `photosearch serve` on the index and times, from a client on
    /// loopback, text searches (whole requests: encoding a text not asked
    /// before, searching, JSON), the next page of each (the server remembers
    /// the text's embedding) and thumbnails (stored ones, as indexing makes
    /// them).
    func serveTimes(executable: String, library: PhotoLibrary) throws -> (search: [Double], nextPage: [Double], thumbnail: [Double]) {
        let photo = Bitmap(width: 640, height: 427, layout: .rgb,
                           pixels: (0..<(640 * 427 * 3)).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 13) })
        let ids = try SyntheticIndex.insertThumbnails(into: library, try Thumbnail.jpeg(photo), count: 100)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: executable)
        server.arguments = ["serve", "--db", databasePath, "--model", modelPath, "--port", "0"]
        var environment = ProcessInfo.processInfo.environment
        environment["XDG_CACHE_HOME"] = folder + "/cache"
        server.environment = environment
        let output = Pipe()
        server.standardOutput = output
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { server.terminate(); server.waitUntilExit() }
        var text = ""
        while !text.contains("\n") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { throw BenchmarkError.incompleteRun("photosearch serve did not start") }
            text += String(decoding: chunk, as: UTF8.self)
        }
        guard let match = text.firstMatch(of: #/127\.0\.0\.1:(\d+)/#), let port = Int(match.1) else {
            throw BenchmarkError.incompleteRun("photosearch serve printed no address: \(text)")
        }
        let captions = ["a+dog+running+on+the+beach+at+sunset", "a+cat+asleep+on+a+sofa", "snowy+mountains",
                        "birthday+cake+with+candles", "a+red+bicycle+against+a+wall", "city+lights+at+night"]
        _ = try Self.timedGet(port: port, target: "/api/search?q=warm+up")   // loads the text tower
        // Each text new to the server: a caption and a number.
        let texts = (0..<60).map { captions[$0 % captions.count] + "+\($0 / captions.count)" }
        var search: [Double] = [], nextPage: [Double] = []
        for text in texts { search.append(try Self.timedGet(port: port, target: "/api/search?top=50&q=" + text)) }
        for text in texts { nextPage.append(try Self.timedGet(port: port, target: "/api/search?top=50&offset=50&q=" + text)) }
        var thumbnail: [Double] = []
        for id in ids { thumbnail.append(try Self.timedGet(port: port, target: "/api/photos/\(id)/thumbnail")) }
        return (search, nextPage, thumbnail)
    }

    /// The exact top 10 rows for each query: queries × rowsᵀ in float32, the
    /// rows made a block at a time.
    static func exactTop10(queries: [Float], rows count: Int, dimension: Int, source: Source) -> [[Int]] {
        let queryCount = queries.count / dimension
        var best = [[(index: Int, score: Float)]](repeating: [], count: queryCount)
        let block = 65_536
        var rows = [Float](repeating: 0, count: block * dimension)
        var scores = [Float](repeating: 0, count: block * queryCount)
        for first in stride(from: 0, to: count, by: block) {
            let blockRows = min(block, count - first)
            rows.withUnsafeMutableBufferPointer { source.rows(first..<(first + blockRows), into: $0.baseAddress!) }
            let products = PackedMatrix(weight: blockRows == block ? rows : Array(rows.prefix(blockRows * dimension)),
                                        outputs: blockRows, inputs: dimension)
            queries.withUnsafeBufferPointer { q in
                scores.withUnsafeMutableBufferPointer { s in
                    products.multiply(rows: queryCount, q.baseAddress!, lda: dimension, into: s.baseAddress!, ldc: blockRows)
                }
            }
            for query in 0..<queryCount {
                // The best ten, kept sorted by insertion.
                for offset in 0..<blockRows {
                    let score = scores[query * blockRows + offset]
                    guard best[query].count < 10 || score > best[query][9].score else { continue }
                    let at = best[query].firstIndex { score > $0.score } ?? best[query].count
                    best[query].insert((first + offset, score), at: at)
                    if best[query].count > 10 { best[query].removeLast() }
                }
            }
        }
        return best.map { $0.map(\.index) }
    }
}

extension SearchBenchmark {
    /// One GET on 127.0.0.1, timed from connecting to the last byte of a
    /// 200 answer (the server closes the connection after it).
    static func timedGet(port: Int, target: String) throws -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        let answer = try HTTPAnswer.request(port: port, method: "GET", target: target)
        guard answer.status == 200 else { throw BenchmarkError.incompleteRun("GET \(target): \(answer.status) \(answer.text.prefix(200))") }
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    }
}
