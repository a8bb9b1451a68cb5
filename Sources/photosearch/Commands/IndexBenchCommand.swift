import ArgumentParser
import Foundation
import Imaging
import PhotoIndex

struct IndexBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Index synthetic 12 MP JPEGs with a ViT-B/32-shaped random model: images/s, peak memory, decode time."
    )

    @Option(name: .long, help: "Number of synthetic photos.")
    var photos = 500

    @Option(name: .long, help: "Folder for the synthetic photos (kept and reused between runs).")
    var folder = FileManager.default.temporaryDirectory.appendingPathComponent("photosearch-bench-photos").path

    @Option(name: .long, help: "Source photos to scale up (default: the repository's fixtures/photos).")
    var source: [String] = []

    func run() throws {
        let sources = source.isEmpty
            ? ["chelsea.png", "rocket.jpg", "coffee-portrait.jpg", "astronaut-progressive.jpg", "camera.png"].map { "fixtures/photos/" + $0 }
            : source
        let log: (String) -> Void = { FileHandle.standardError.write(Data("bench: \($0)\n".utf8)) }
        do {
            let bitmaps = try sources.map { try ImageDecoder().decode(path: $0).bitmap }
            let benchmark = IndexBenchmark(photos: photos, folder: folder)
            let paths = try benchmark.preparePhotos(sources: bitmaps, log: log)
            let figures = try benchmark.run(paths: paths, databasePath: folder + "/../photosearch-bench-index.sqlite", log: log)
            let djpeg = figures.djpegEighthMilliseconds.map { String(format: "%.1f ms", $0) } ?? "not installed"
            print("photos: \(figures.photos) × \(String(format: "%.0f", figures.megapixels)) MP JPEG, \(figures.averageFileBytes / 1000) KB average")
            print("end to end: \(String(format: "%.2f", figures.endToEndImagesPerSecond)) images/s (encoder alone: \(String(format: "%.2f", figures.encoderOnlyImagesPerSecond)) images/s)")
            print("peak RSS: \(String(format: "%.0f", figures.peakResidentMegabytes)) MB")
            print("one photo decoded + preprocessed to 224 px: \(String(format: "%.1f", figures.decodePreprocessMilliseconds)) ms; libjpeg at 1/8 alone: \(String(format: "%.1f", figures.libjpegEighthMilliseconds)) ms; djpeg -scale 1/8: \(djpeg)")
            var fields = [
                "\"images_per_second\":\(String(format: "%.2f", figures.endToEndImagesPerSecond))",
                "\"encoder_only_images_per_second\":\(String(format: "%.2f", figures.encoderOnlyImagesPerSecond))",
                "\"peak_rss_mb\":\(String(format: "%.0f", figures.peakResidentMegabytes))",
                "\"decode_preprocess_ms\":\(String(format: "%.2f", figures.decodePreprocessMilliseconds))",
                "\"libjpeg_scale_1_8_ms\":\(String(format: "%.2f", figures.libjpegEighthMilliseconds))",
            ]
            fields.append("\"djpeg_scale_1_8_ms\":" + (figures.djpegEighthMilliseconds.map { String(format: "%.2f", $0) } ?? "null"))
            fields.append("\"photos\":\(figures.photos)")
            print("{" + fields.joined(separator: ",") + "}")
        } catch {
            throw Failure.exit(error)
        }
    }
}
