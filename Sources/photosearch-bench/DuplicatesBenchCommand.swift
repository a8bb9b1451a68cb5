import ArgumentParser
import Foundation
import PhotoSearchBenchmarks

struct DuplicatesBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "duplicates",
        abstract: "Find duplicates among synthetic clustered vectors: the partitioned search's time, the exact one's, and the share of its pairs found."
    )

    @Option(name: .long, help: "Number of vectors (photos).")
    var vectors = 100_000

    @Option(name: .long, help: "Cosine similarity at or above which two photos are duplicates.")
    var threshold: Float = 0.95

    @Option(name: .long, help: "Time the exact all-pairs method too up to this many vectors.")
    var exactUpTo = 100_000

    @Option(name: .long, help: "Folder for the index and the model (kept and reused between runs).")
    var folder: String?

    func validate() throws {
        guard (2...10_000_000).contains(vectors) else { throw ValidationError("--vectors must be in 2...10000000.") }
        guard threshold > 0, threshold <= 1 else { throw ValidationError("--threshold must be in (0, 1].") }
    }

    func run() throws {
        try benchReporting {
            let folder = self.folder ?? FileManager.default.temporaryDirectory.appendingPathComponent("photosearch-bench-duplicates").path
            var benchmark = DuplicatesBenchmark(vectors: vectors, folder: folder)
            benchmark.threshold = threshold
            benchmark.exactUpTo = exactUpTo
            let figures = try benchmark.run(log: { benchOutput($0 + "\n") })
            var text = "\(figures.vectors) vectors, threshold \(figures.threshold): partitioned \(figures.seconds) s, \(figures.groups) groups, \(figures.pairs) linked pairs\n"
            if let exact = figures.exactSeconds, let pairs = figures.exactPairs, let recall = figures.recall {
                text += "exact: \(exact) s, \(figures.exactGroups ?? 0) groups, \(pairs) linked pairs; the partition found \(recall * 100) % of them\n"
            }
            if let pairs = figures.sampledPairs, let recall = figures.sampledRecall {
                text += "sampled: of the \(pairs) pairs of \(figures.sampledPhotos ?? 0) random photos (brute force), \(recall * 100) % linked\n"
            }
            benchOutput(text + "peak RSS \(figures.peakResidentMegabytes) MB\n\n")
            try benchJSON(figures)
        }
    }
}
