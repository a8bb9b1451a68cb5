import Foundation
import Testing
import TestSupport

/// Chinese queries end to end with a Chinese-CLIP model (the random fixture,
/// from its PyTorch .bin): index, search with the query language, similar,
/// JSON output; scores are the cosines `embed` gives for the same inputs.
@Suite("Chinese queries with Chinese-CLIP")
struct ChineseSearchTests {
    static let model = CommandRunner.fixture("models/cn-clip-vit-p8-bin")

    struct Line: Decodable {
        let path: String
        let score: Float
    }

    struct Embedding: Decodable {
        let embedding: [Float]
    }

    func embedding(_ arguments: [String]) throws -> [Float] {
        let result = try CommandRunner.run(["embed", "--model", Self.model, "--normalize"] + arguments)
        #expect(result.status == 0, "\(result.standardError)")
        return try JSONDecoder().decode(Embedding.self, from: Data(result.standardOutput.utf8)).embedding
    }

    @Test("search and similar answer Chinese queries, weights and exclusions included, with the scores embed gives")
    func chineseQueries() throws {
        let folder = try TemporaryDirectory()
        let photos = folder.path + "/照片"
        try FileManager.default.createDirectory(atPath: photos, withIntermediateDirectories: true)
        let names = ["猫.png", "camera.png", "astronaut.png"]
        for (name, source) in zip(names, ["chelsea.png", "camera.png", "astronaut-64.png"]) {
            try FileManager.default.copyItem(atPath: CommandRunner.fixture("photos/" + source), toPath: photos + "/" + name)
        }
        let database = folder.path + "/index.sqlite"
        let indexed = try CommandRunner.run(["index", photos, "--db", database, "--model", Self.model])
        #expect(indexed.status == 0, "\(indexed.standardError)")

        let search = try CommandRunner.run(["search", "海边的日落", "--db", database, "--model", Self.model, "--json"])
        #expect(search.status == 0, "\(search.standardError)")
        let lines = try search.standardOutput.split(separator: "\n").map { try JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
        #expect(Set(lines.map(\.path)) == Set(names.map { photos + "/" + $0 }))
        #expect(lines.map(\.score) == lines.map(\.score).sorted(by: >))
        let text = try embedding(["--text", "海边的日落"])
        for line in lines {
            let image = try embedding(["--image", line.path])
            let cosine = zip(text, image).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            #expect(abs(cosine - line.score) < 2e-3, "\(line.path): \(cosine) against \(line.score)")
        }

        // The query language: quoted and bare Chinese terms, weights, exclusion.
        let combined = try CommandRunner.run(["search", "\"日落\" + 2:海边 - \"人群\"", "--db", database, "--model", Self.model,
                                              "--json", "--top", "1"])
        #expect(combined.status == 0, "\(combined.standardError)")
        let best = try JSONDecoder().decode(Line.self, from: Data(combined.standardOutput.utf8.dropLast()))
        var sum = [Float](repeating: 0, count: text.count)
        for (weight, term) in [(Float(1), "日落"), (2, "海边"), (-1, "人群")] {
            for (index, value) in try embedding(["--text", term]).enumerated() { sum[index] += weight * value }
        }
        let norm = sum.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let scores = try names.map { name in
            zip(sum, try embedding(["--image", photos + "/" + name])).reduce(Float(0)) { $0 + $1.0 * $1.1 } / norm
        }
        let expected = scores.indices.max { scores[$0] < scores[$1] }!
        #expect(best.path == photos + "/" + names[expected])
        #expect(abs(best.score - scores[expected]) < 2e-3)

        let similar = try CommandRunner.run(["similar", photos + "/猫.png", "--db", database, "--json"])
        #expect(similar.status == 0, "\(similar.standardError)")
        #expect(!similar.standardOutput.contains("猫.png\""))
        #expect(similar.standardOutput.split(separator: "\n").count == 2)
    }
}
