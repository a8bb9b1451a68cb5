import ArgumentParser
import Imaging
import PhotoSearchBenchmarks

struct QualityBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quality",
        abstract: "Compare int8 with float32 on a ViT-B/32-shaped random model: cosines, and how often a top 10 changes."
    )

    @Option(name: .long, help: "Source photos (default: the repository's fixtures/photos); each is used in 8 variations.")
    var source: [String] = []

    func run() throws {
        try benchReporting {
            let bitmaps = try sourcePhotos(source)
            let figures = try QualityBenchmark(sources: bitmaps).run(log: benchLog)
            var lines = "\(figures.photos) photos, \(figures.captions) captions; int8 against float32 (\(figures.kernels)):\n"
            lines += "cosine: worst \(String(format: "%.5f", figures.worstCosine)) (photos \(String(format: "%.5f", figures.worstPhotoCosine)), "
            lines += "captions \(String(format: "%.5f", figures.worstCaptionCosine))), mean \(String(format: "%.5f", figures.meanCosine))\n"
            lines += "top 10 of a search: other photos in \(String(format: "%.1f", figures.top10SetChanged * 100))% of queries, "
            lines += "another order in \(String(format: "%.1f", figures.top10OrderChanged * 100))%, "
            lines += "\(String(format: "%.1f", figures.meanOverlapAt10 * 100))% of the top 10 kept\n"
            lines += "different photos' float32 embeddings: mean cosine \(String(format: "%.3f", figures.meanCrossPhotoCosine))\n"
            benchOutput(lines)
            try benchJSON(figures)
        }
    }
}
