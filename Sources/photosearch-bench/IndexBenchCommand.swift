import ArgumentParser
import CLIP
import Foundation
import Imaging
import PhotoSearchBenchmarks

struct IndexBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Index synthetic 12 MP JPEGs with a random model (ViT-B/32-shaped unless --shape): images/s, peak memory, decode time."
    )

    @Option(name: .long, help: "The photosearch executable to time (default: the one next to this program).")
    var photosearch: String?

    @Option(name: .long, help: "The random model's shape: vit-b-32, mobileclip2-s0, -s2, -b, -l-14, or a SigLIP 2 one (siglip2-b-16-224 …).")
    var shape = "vit-b-32"

    @Option(name: .long, help: "Number of synthetic photos.")
    var photos = 500

    @Option(name: .long, help: "Folder for the photos, the model and the index (kept and reused between runs).")
    var folder = FileManager.default.temporaryDirectory.appendingPathComponent("photosearch-bench-index").path

    @Option(name: .long, help: "Source photos to scale up (default: the repository's fixtures/photos).")
    var source: [String] = []

    func validate() throws {
        guard (1...100_000).contains(photos) else { throw ValidationError("--photos must be in 1...100000.") }
    }

    func run() throws {
        try benchReporting {
            let bitmaps = try sourcePhotos(source)
            let executable = photosearch ?? siblingPhotosearch()
            var benchmark = IndexBenchmark(photos: photos, folder: folder)
            benchmark.shape = shape
            let figures = try benchmark.run(sources: bitmaps, executable: executable, log: benchLog)
            let djpeg = figures.djpegEighthMilliseconds.map { String(format: "%.1f ms", $0) } ?? "not installed"
            var lines = "photos: \(figures.photos) × \(String(format: "%.0f", figures.megapixels)) MP JPEG, \(figures.averageFileBytes / 1000) KB average\n"
            for precision in [Precision.int8, .fp32] {
                lines += "photosearch index, \(precision.rawValue): \(String(format: "%.2f", figures.imagesPerSecond[precision] ?? 0)) images/s, "
                lines += "peak RSS \(String(format: "%.0f", figures.peakResidentMegabytes[precision] ?? 0)) MB\n"
            }
            lines += "preparing the model on the first run: \(String(format: "%.1f", figures.prepareSeconds)) s; "
            lines += "int8 encoder alone: \(String(format: "%.2f", figures.encoderOnlyImagesPerSecond)) images/s\n"
            lines += "one photo decoded + preprocessed to \(figures.imageSize) px: \(String(format: "%.1f", figures.decodePreprocessMilliseconds)) ms; libjpeg at 1/8 alone: \(String(format: "%.1f", figures.libjpegEighthMilliseconds)) ms; djpeg -scale 1/8: \(djpeg)\n"
            benchOutput(lines)
            try benchJSON(figures)
        }
    }
}
