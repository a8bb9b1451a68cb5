import CLIP
import Dispatch
import Foundation
import GRDB

/// `photosearch bench search`: synthetic unit vectors in a real index
/// database, searched in process (the vector search alone) and through the
/// whole `photosearch search` command (process start, model loading, text
/// encoding with a ViT-B/32-shaped text tower, search, output).
public struct SearchBenchmark {
    public struct Figures: Sendable {
        public var vectors: Int
        public var dimension: Int
        public var scanP50: Double
        public var scanP95: Double
        public var commandP50: Double?
        public var commandP95: Double?
        public var recallAt10: Double
        public var matrixBuildSeconds: Double
    }

    public var vectors: Int
    public var dimension: Int
    public var folder: String
    public var queries = 100

    public init(vectors: Int, dimension: Int, folder: String) {
        self.vectors = vectors
        self.dimension = dimension
        self.folder = folder
    }

    public var databasePath: String { folder + "/index.sqlite" }
    public var modelPath: String { folder + "/vit-b-32-text" }
    public var queriesPath: String { folder + "/queries.f32" }

    /// Deterministic unit vectors (Gaussian directions).
    static func unitVectors(count: Int, dimension: Int, seed: UInt64) -> [Float] {
        var values = [Float](repeating: 0, count: count * dimension)
        let parts = 16
        let chunk = (count + parts - 1) / parts
        values.withUnsafeMutableBufferPointer { buffer in
            let base = SendableFloats(buffer.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                var state = seed &+ UInt64(part) &* 0x9E37_79B9_7F4A_7C15
                func uniform() -> Double {
                    state &+= 0x9E37_79B9_7F4A_7C15
                    var z = state
                    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                    return (Double((z ^ (z >> 31)) >> 11) + 0.5) / Double(1 << 53)
                }
                let rows = min(count, part * chunk)..<min(count, (part + 1) * chunk)
                for row in rows {
                    var norm = 0.0
                    let vector = base.pointer + row * dimension
                    for k in 0..<dimension {
                        let value = (-2 * log(uniform())).squareRoot() * cos(2 * .pi * uniform())
                        vector[k] = Float(value)
                        norm += value * value
                    }
                    let inverse = Float(1 / norm.squareRoot())
                    for k in 0..<dimension { vector[k] *= inverse }
                }
            }
        }
        return values
    }

    /// Writes the model folder and the index (skipped when already there).
    public func prepare(log: (String) -> Void) throws -> [Float] {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: modelPath + "/open_clip_model.safetensors") {
            log("writing a random ViT-B/32 text tower to \(modelPath)")
            var configuration = ModelConfiguration.vitB32
            configuration.embeddingSize = dimension
            try CLIPModel.writeRandomCheckpoint(configuration, towers: .text, to: modelPath)
        }
        let data = Self.unitVectors(count: vectors, dimension: dimension, seed: 1)
        let marker = folder + "/index-\(vectors)x\(dimension).done"
        if !FileManager.default.fileExists(atPath: marker) {
            log("writing \(vectors) vectors of \(dimension) dimensions into \(databasePath)")
            for suffix in ["", "-wal", "-shm", ".vectors", ".lock"] { try? FileManager.default.removeItem(atPath: databasePath + suffix) }
            let database = try IndexDatabase(path: databasePath, create: true)
            let identity = try ModelIdentity.of(directory: try ModelDirectory(path: modelPath), embeddingSize: dimension)
            try database.write { db in
                try db.execute(sql: """
                    INSERT INTO models (name, embedding_size, checksum, weights_path, weights_size, weights_modified_at, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [identity.name, dimension, identity.checksum, identity.weightsPath, identity.weightsSize,
                                     identity.weightsModifiedAt, Timestamp.now()])
            }
            for start in stride(from: 0, to: vectors, by: 20_000) {
                try database.write { db in
                    let photo = try db.makeStatement(sql: """
                        INSERT INTO photos (path, size, modified_at, state, updated_at)
                        VALUES (?, 1000, 1700000000000000000, 'indexed', '2024-01-01T00:00:00Z')
                        """)
                    let embedding = try db.makeStatement(sql: "INSERT INTO embeddings (photo_id, model_id, vector) VALUES (?, 1, ?)")
                    for row in start..<min(vectors, start + 20_000) {
                        try photo.execute(arguments: [String(format: "/photos/%07d.jpg", row)])
                        let blob = data.withUnsafeBufferPointer { Data(buffer: UnsafeBufferPointer(rebasing: $0[(row * dimension)..<((row + 1) * dimension)])) }
                        try embedding.execute(arguments: [db.lastInsertedRowID, blob])
                    }
                }
            }
            FileManager.default.createFile(atPath: marker, contents: nil)
        }
        return data
    }

    public func run(vectorsInMemory data: [Float], executable: String?, log: (String) -> Void) throws -> Figures {
        let database = try IndexDatabase(path: databasePath, create: false)
        try? FileManager.default.removeItem(atPath: VectorMatrix.path(forIndex: databasePath))
        let searcher = try PhotoSearcher(database: database)
        let buildStart = DispatchTime.now().uptimeNanoseconds
        _ = try searcher.currentMatrix()
        let buildSeconds = Double(DispatchTime.now().uptimeNanoseconds - buildStart) / 1e9

        // Queries, saved for scripts/bench-search-peers.py.
        let queryData = Self.unitVectors(count: queries, dimension: dimension, seed: 99)
        try queryData.withUnsafeBufferPointer { Data(buffer: $0) }.write(to: URL(fileURLWithPath: queriesPath))

        // Exact float32 brute force for recall: queries × vectorsᵀ.
        var truth: [[Int]] = []
        let products = PackedProducts(matrix: data, rows: vectors, columns: dimension)
        var scores = [Float](repeating: 0, count: queries * vectors)
        queryData.withUnsafeBufferPointer { q in
            scores.withUnsafeMutableBufferPointer { s in products.multiply(q.baseAddress!, rows: queries, into: s.baseAddress!) }
        }
        for query in 0..<queries {
            var heap = TopK(capacity: 10)
            for index in 0..<vectors where scores[query * vectors + index] > heap.threshold {
                heap.insert(scores[query * vectors + index], index)
            }
            truth.append(heap.sorted().map(\.item))
        }
        scores = []

        var times: [Double] = []
        var found = 0
        for query in 0..<queries {
            let vector = Array(queryData[(query * dimension)..<((query + 1) * dimension)])
            let start = DispatchTime.now().uptimeNanoseconds
            let results = try searcher.search(vector, top: 10)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            let expected = Set(truth[query].map { String(format: "/photos/%07d.jpg", $0) })
            found += results.filter { expected.contains($0.path) }.count
        }

        var command: [Double] = []
        if let executable {
            let captions = ["a dog running on the beach at sunset", "a cat asleep on a sofa", "snowy mountains",
                            "birthday cake with candles", "a red bicycle against a wall", "city lights at night"]
            for index in 0..<20 {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: executable)
                process.arguments = ["search", captions[index % captions.count], "--db", databasePath, "--model", modelPath, "--paths"]
                process.standardOutput = FileHandle.nullDevice
                let start = DispatchTime.now().uptimeNanoseconds
                try process.run()
                process.waitUntilExit()
                guard process.terminationStatus == 0 else {
                    throw PhotoIndexError.database(path: databasePath, reason: "photosearch search exited \(process.terminationStatus)")
                }
                command.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            }
        }
        return Figures(vectors: vectors, dimension: dimension,
                       scanP50: Self.percentile(times, 0.5), scanP95: Self.percentile(times, 0.95),
                       commandP50: command.isEmpty ? nil : Self.percentile(command, 0.5),
                       commandP95: command.isEmpty ? nil : Self.percentile(command, 0.95),
                       recallAt10: Double(found) / Double(queries * 10), matrixBuildSeconds: buildSeconds)
    }

    static func percentile(_ values: [Double], _ fraction: Double) -> Double {
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * fraction).rounded()))]
    }
}

private struct SendableFloats: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    init(_ pointer: UnsafeMutablePointer<Float>) { self.pointer = pointer }
}
