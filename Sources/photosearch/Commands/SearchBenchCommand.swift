import ArgumentParser
import Foundation
import PhotoIndex

struct SearchBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Search synthetic vectors in a real index: p50/p95 of the search and of the whole command, recall@10."
    )

    @Option(name: .long, help: "Number of vectors (photos).")
    var vectors = 100_000

    @Option(name: .long, help: "Embedding dimension.")
    var dim = 512

    @Option(name: .long, help: "Folder for the index and the model (kept and reused between runs).")
    var folder: String?

    @Option(name: .long, help: "Number of in-process queries.")
    var queries = 100

    func run() throws {
        let folder = self.folder ?? FileManager.default.temporaryDirectory.appendingPathComponent("photosearch-bench-search-\(vectors)").path
        let log: (String) -> Void = { FileHandle.standardError.write(Data("bench: \($0)\n".utf8)) }
        do {
            var benchmark = SearchBenchmark(vectors: vectors, dimension: dim, folder: folder)
            benchmark.queries = queries
            let data = try benchmark.prepare(log: log)
            let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
            let figures = try benchmark.run(vectorsInMemory: data, executable: executable, log: log)
            print("\(figures.vectors) vectors × \(figures.dimension): vector file built in \(String(format: "%.1f", figures.matrixBuildSeconds)) s")
            print("search (int8 scan + float32 rescoring): p50 \(String(format: "%.2f", figures.scanP50)) ms, p95 \(String(format: "%.2f", figures.scanP95)) ms, recall@10 \(String(format: "%.3f", figures.recallAt10))")
            if let p50 = figures.commandP50, let p95 = figures.commandP95 {
                print("photosearch search \"text\" (whole command): p50 \(String(format: "%.0f", p50)) ms, p95 \(String(format: "%.0f", p95)) ms")
            }
            print("queries for scripts/bench-search-peers.py: \(benchmark.queriesPath); index: \(benchmark.databasePath)")
            var fields = ["\"vectors\":\(figures.vectors)", "\"dim\":\(figures.dimension)",
                          "\"scan_p50_ms\":\(String(format: "%.3f", figures.scanP50))", "\"scan_p95_ms\":\(String(format: "%.3f", figures.scanP95))"]
            fields.append("\"cli_p50_ms\":" + (figures.commandP50.map { String(format: "%.1f", $0) } ?? "null"))
            fields.append("\"cli_p95_ms\":" + (figures.commandP95.map { String(format: "%.1f", $0) } ?? "null"))
            fields.append("\"recall_at_10\":\(String(format: "%.4f", figures.recallAt10))")
            print("{" + fields.joined(separator: ",") + "}")
        } catch {
            throw Failure.exit(error)
        }
    }
}
