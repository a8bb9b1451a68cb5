import ArgumentParser
import CLIP
import Foundation
import PhotoSearchBenchmarks

struct SearchBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Search synthetic vectors in a real index: p50/p95 of the search and of the whole command, recall@10."
    )

    @Option(name: .long, help: "The photosearch executable to time (default: the one next to this program).")
    var photosearch: String?

    @Option(name: .long, help: "Number of vectors (photos).")
    var vectors = 100_000

    @Option(name: .long, help: "Embedding dimension.")
    var dim = 512

    @Option(name: .long, help: "Folder for the index and the model (kept and reused between runs).")
    var folder: String?

    @Option(name: .long, help: "Number of in-process queries.")
    var queries = 100

    @Option(name: .long, help: "The vectors: clustered (topics, events and photos, as real embeddings are) or uniform (random directions).")
    var data = "clustered"

    @Option(name: .long, help: "Probe counts to measure besides the standard one, comma-separated (a partitioned index; e.g. 16,32,64).")
    var probes = ""

    @Flag(name: .long, help: "Search the vector file already in --folder instead of writing and timing it afresh (minutes at 10 M).")
    var keepVectorFile = false

    @Flag(name: .long, help: "Time only the in-process searches: no whole commands, no server.")
    var inProcess = false

    @Option(name: .long, help: "The random text tower's shape: vit-b-32, or a SigLIP 2 one (siglip2-b-16-224 …), whose width sets --dim.")
    var shape = "vit-b-32"

    func validate() throws {
        guard (1...10_000_000).contains(vectors) else { throw ValidationError("--vectors must be in 1...10000000.") }
        guard (1...4096).contains(dim) else { throw ValidationError("--dim must be in 1...4096.") }
        guard (1...100_000).contains(queries) else { throw ValidationError("--queries must be in 1...100000.") }
        guard SearchBenchmark.DataKind(rawValue: data) != nil else { throw ValidationError("--data must be clustered or uniform.") }
        guard probeCounts != nil else { throw ValidationError("--probes must be positive whole numbers separated by commas.") }
    }

    var probeCounts: [Int]? {
        let parts = probes.split(separator: ",")
        let counts = parts.compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.filter { (1...1 << 20).contains($0) }
        return counts.count == parts.count ? counts : nil
    }

    func run() throws {
        try benchReporting {
            let folder = self.folder ?? FileManager.default.temporaryDirectory.appendingPathComponent("photosearch-bench-search-\(vectors)").path
            let dimension = EncoderBenchmark.shapes[shape].map { $0.vision.architecture == .siglip ? $0.embeddingSize : dim } ?? dim
            var benchmark = SearchBenchmark(vectors: vectors, dimension: dimension, folder: folder)
            benchmark.queries = queries
            benchmark.shape = shape
            benchmark.data = SearchBenchmark.DataKind(rawValue: data)!
            benchmark.probes = probeCounts ?? []
            benchmark.keepVectorFile = keepVectorFile
            let executable = inProcess ? nil : photosearch ?? siblingPhotosearch()
            let figures = try benchmark.run(executable: executable, log: benchLog)
            var lines = "\(figures.vectors) \(figures.data) vectors × \(figures.dimension): vector file "
            lines += keepVectorFile ? "kept (opened in \(String(format: "%.1f", figures.vectorFileSeconds)) s)" : "written in \(String(format: "%.1f", figures.vectorFileSeconds)) s"
            lines += figures.cells > 0 ? ", partitioned into \(figures.cells) cells\n" : ", not partitioned\n"
            lines += "search (4-bit scan, float16 rescoring): p50 \(String(format: "%.2f", figures.searchP50)) ms, p95 \(String(format: "%.2f", figures.searchP95)) ms, recall@10 \(String(format: "%.3f", figures.recallAt10))\n"
            for setting in figures.probeSettings {
                lines += "  \(setting.probes) probes: p50 \(String(format: "%.2f", setting.searchP50)) ms, p95 \(String(format: "%.2f", setting.searchP95)) ms, recall@10 \(String(format: "%.3f", setting.recallAt10))\n"
            }
            if let peak = figures.commandPeakResidentMegabytes {
                lines += "photosearch search: peak resident memory \(String(format: "%.0f", peak)) MB\n"
            }
            if let p50 = figures.commandP50, let p95 = figures.commandP95 {
                lines += "photosearch search \"text\" (whole command): p50 \(String(format: "%.0f", p50)) ms, p95 \(String(format: "%.0f", p95)) ms"
                lines += figures.commandFirst.map { "; the first, preparing the text tower: \(String(format: "%.0f", $0)) ms\n" } ?? "\n"
            }
            if let p50 = figures.serveSearchP50, let p95 = figures.serveSearchP95, let next = figures.serveNextPageP50,
               let thumbnail = figures.serveThumbnailP50 {
                lines += "photosearch serve, GET /api/search (top 50, a new text encoded): p50 \(String(format: "%.1f", p50)) ms, "
                lines += "p95 \(String(format: "%.1f", p95)) ms; its next page (the text remembered): p50 \(String(format: "%.1f", next)) ms; "
                lines += "a thumbnail: p50 \(String(format: "%.2f", thumbnail)) ms\n"
            }
            lines += "index file: \(figures.databaseBytes) bytes, \(figures.databaseBytes / Int64(max(figures.vectors, 1))) per photo, "
            lines += "\(String(format: "%.1f", (Double(figures.databaseBytes) / Double(max(figures.payloadBytes, 1)) - 1) * 100))% over its payload\n"
            lines += "queries for scripts/bench-search-peers.py: \(benchmark.queriesPath); index: \(benchmark.databasePath)\n"
            benchOutput(lines)
            try benchJSON(figures)
        }
    }
}
