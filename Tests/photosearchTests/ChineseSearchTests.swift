import Foundation
import Testing
import TestSupport

/// Chinese queries end to end with a Chinese-CLIP model (the random fixture,
/// from its PyTorch .bin) and a SigLIP 2 one (multilingual through its Gemma
/// tokenizer): index, search with the query language, similar, JSON output;
/// scores are the cosines `embed` gives for the same inputs, and SigLIP's
/// match probabilities are its calibration of them.
@Suite("Chinese queries with Chinese-CLIP and SigLIP 2")
struct ChineseSearchTests {
    static let models = [CommandRunner.fixture("models/cn-clip-vit-p8-bin"), CommandRunner.fixture("models/siglip2-p8")]

    struct Line: Decodable {
        let path: String
        let score: Float
        let probability: Float?
    }

    /// What transformers computed for the SigLIP 2 fixture: its calibration.
    struct Calibration: Decodable {
        let logit_scale: Float
        let logit_bias: Float

        func probability(_ cosine: Float) -> Float {
            Float(1 / (1 + exp(-(exp(Double(logit_scale)) * Double(cosine) + Double(logit_bias)))))
        }
    }

    static func indexed(_ model: String, in folder: TemporaryDirectory) throws -> (photos: String, names: [String], database: String) {
        let photos = folder.path + "/照片"
        try FileManager.default.createDirectory(atPath: photos, withIntermediateDirectories: true)
        let names = ["猫.png", "camera.png", "astronaut.png", "coffee.png"]
        for (name, source) in zip(names, ["chelsea.png", "camera.png", "astronaut-64.png", "coffee-64.png"]) {
            try FileManager.default.copyItem(atPath: CommandRunner.fixture("photos/" + source), toPath: photos + "/" + name)
        }
        let database = folder.path + "/index.sqlite"
        let indexed = try CommandRunner.run(["index", photos, "--db", database, "--model", model])
        #expect(indexed.status == 0, "\(indexed.standardError)")
        return (photos, names, database)
    }

    struct Embedding: Decodable {
        let embedding: [Float]
    }

    func embedding(_ model: String, _ arguments: [String]) throws -> [Float] {
        let result = try CommandRunner.run(["embed", "--model", model, "--normalize"] + arguments)
        #expect(result.status == 0, "\(result.standardError)")
        return try JSONDecoder().decode(Embedding.self, from: Data(result.standardOutput.utf8)).embedding
    }

    @Test("search and similar answer Chinese queries, weights and exclusions included, with the scores embed gives",
          arguments: models)
    func chineseQueries(model: String) throws {
        let folder = try TemporaryDirectory()
        let (photos, names, database) = try Self.indexed(model, in: folder)

        let search = try CommandRunner.run(["search", "海边的日落", "--db", database, "--model", model, "--json"])
        #expect(search.status == 0, "\(search.standardError)")
        let lines = try search.standardOutput.split(separator: "\n").map { try JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
        #expect(Set(lines.map(\.path)) == Set(names.map { photos + "/" + $0 }))
        #expect(lines.map(\.score) == lines.map(\.score).sorted(by: >))
        let text = try embedding(model, ["--text", "海边的日落"])
        for line in lines {
            let image = try embedding(model, ["--image", line.path])
            let cosine = zip(text, image).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            #expect(abs(cosine - line.score) < 2e-3, "\(line.path): \(cosine) against \(line.score)")
        }

        // The query language: quoted and bare Chinese terms, weights, exclusion.
        let combined = try CommandRunner.run(["search", "\"日落\" + 2:海边 - \"人群\"", "--db", database, "--model", model,
                                              "--json", "--top", "1"])
        #expect(combined.status == 0, "\(combined.standardError)")
        let best = try JSONDecoder().decode(Line.self, from: Data(combined.standardOutput.utf8.dropLast()))
        var sum = [Float](repeating: 0, count: text.count)
        for (weight, term) in [(Float(1), "日落"), (2, "海边"), (-1, "人群")] {
            for (index, value) in try embedding(model, ["--text", term]).enumerated() { sum[index] += weight * value }
        }
        let norm = sum.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let scores = try names.map { name in
            zip(sum, try embedding(model, ["--image", photos + "/" + name])).reduce(Float(0)) { $0 + $1.0 * $1.1 } / norm
        }
        let expected = scores.indices.max { scores[$0] < scores[$1] }!
        #expect(best.path == photos + "/" + names[expected])
        #expect(abs(best.score - scores[expected]) < 2e-3)

        let similar = try CommandRunner.run(["similar", photos + "/猫.png", "--db", database, "--json"])
        #expect(similar.status == 0, "\(similar.standardError)")
        #expect(!similar.standardOutput.contains("猫.png\""))
        #expect(similar.standardOutput.split(separator: "\n").count == 3)
        #expect(!similar.standardOutput.contains("probability"))
    }

    @Test("SigLIP 2: a one-text query's results carry the model's match probability, in JSON and the table, and --min-probability filters by it")
    func probabilities() throws {
        let model = Self.models[1]
        let calibration = try JSONDecoder().decode(Calibration.self, from: Data(contentsOf: URL(fileURLWithPath: CommandRunner.fixture("reference/siglip2-p8.json"))))
        let folder = try TemporaryDirectory()
        let (photos, names, database) = try Self.indexed(model, in: folder)
        func lines(_ arguments: [String]) throws -> [Line] {
            let result = try CommandRunner.run(["search"] + arguments + ["--db", database, "--model", model, "--json"])
            #expect(result.status == 0, "\(result.standardError)")
            return try result.standardOutput.split(separator: "\n").map { try JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
        }
        var all: [Line] = []
        for query in ["海边的日落", "a cat asleep on a sofa", "咖啡 coffee", "宇航员"] {
            let found = try lines([query])
            #expect(found.count == names.count)
            for line in found {
                let probability = try #require(line.probability, "\(query) \(line.path)")
                #expect(abs(probability - calibration.probability(line.score)) < 1e-4, "\(query) \(line.path)")
            }
            all += found
        }
        // The fixture spreads the probabilities (else the filter below tests nothing).
        let probabilities = Set(all.map { $0.probability! }).sorted()
        #expect(probabilities.contains { $0 > 0.01 && $0 < 0.99 }, "\(probabilities)")
        // A bar between two results' probabilities keeps exactly those above it.
        let query = all.max { abs($0.probability! - 0.5) > abs($1.probability! - 0.5) }!
        let queries = ["海边的日落", "a cat asleep on a sofa", "咖啡 coffee", "宇航员"]
        let text = queries[all.firstIndex { $0.path == query.path && $0.probability == query.probability }! / names.count]
        let unfiltered = try lines([text])
        let bar = query.probability! * 0.999
        let filtered = try lines([text, "--min-probability", String(bar)])
        #expect(filtered.map(\.path) == unfiltered.filter { $0.probability! >= bar }.map(\.path))
        #expect(!filtered.isEmpty)

        // The table shows it as a percentage.
        let table = try CommandRunner.run(["search", text, "--db", database, "--model", model])
        #expect(table.standardOutput.contains("%"), "\(table.standardOutput)")
        // Below 50 % a result is a weaker match; when all are, standard error says so.
        for query in queries {
            let found = try lines([query])
            let result = try CommandRunner.run(["search", query, "--db", database, "--model", model])
            let said = result.standardError == "photosearch: no photo matches well (all below 50%); these are the closest\n"
            #expect(said == found.allSatisfy { $0.probability! < 0.5 }, "\(query): \(result.standardError)")
            #expect(result.standardOutput.contains("-- weaker matches --")
                == (found[0].probability! >= 0.5 && found.contains { $0.probability! < 0.5 }), "\(query)")
        }

        // Not for combined queries or search by example: they have no calibrated probability.
        #expect(try lines(["日落 + 海边"]).allSatisfy { $0.probability == nil })
        let refused = try CommandRunner.run(["similar", photos + "/猫.png", "--db", database, "--min-probability", "0.5"])
        #expect(refused.status == 64 && refused.standardError.contains("Unknown option '--min-probability'"), "\(refused.standardError)")
        // (so its help does not offer it; search's does)
        #expect(try !CommandRunner.run(["similar", "--help"]).standardOutput.contains("--min-probability"))
        #expect(try CommandRunner.run(["search", "--help"]).standardOutput.contains("--min-probability"))
        let combined = try CommandRunner.run(["search", "日落 + 海边", "--db", database, "--model", model, "--min-probability", "0.5"])
        #expect(combined.status != 0 && combined.standardError.contains("one text"), "\(combined.standardError)")
        let outOfRange = try CommandRunner.run(["search", text, "--db", database, "--model", model, "--min-probability", "1"])
        #expect(outOfRange.status != 0 && outOfRange.standardError.contains("between 0 and 1"), "\(outOfRange.standardError)")
    }
}
