import CLIP
import Dispatch
import Foundation
import Imaging
import PhotoIndex
import Synchronization
import TestSupport

/// `photosearch-bench index`: synthetic camera-sized JPEGs indexed end to end
/// by the `photosearch index` command itself (a child process, as a user
/// runs it) with a ViT-B/32-shaped random model written to disk, in int8 and
/// in float32: images per second and each run's own peak memory. Plus the
/// encoder alone and decoding figures, compared with libjpeg-turbo's own
/// `djpeg -scale 1/8` (a peer run in the same process).
public struct IndexBenchmark: Sendable {
    public struct Figures: Encodable, Sendable {
        public var photos: Int
        public var megapixels: Double
        public var averageFileBytes: Int
        /// Per precision (int8, fp32): images per second and peak RSS of the
        /// whole `photosearch index` run, the model prepared beforehand.
        public var imagesPerSecond: [Precision: Double]
        public var peakResidentMegabytes: [Precision: Double]
        /// Preparing both towers once (the first run's extra time), int8.
        public var prepareSeconds: Double
        public var encoderOnlyImagesPerSecond: Double
        public var decodePreprocessMilliseconds: Double
        public var libjpegEighthMilliseconds: Double
        public var djpegEighthMilliseconds: Double?
        /// The side the model's preprocessing gives a photo.
        public var imageSize = 0

        private enum Keys: String, CodingKey {
            case photos, imagesPerSecond = "images_per_second", imagesPerSecondFloat = "images_per_second_fp32"
            case peakRSS = "peak_rss_mb", peakRSSFloat = "peak_rss_mb_fp32", prepare = "prepare_seconds"
            case encoderOnly = "encoder_only_images_per_second", decode = "decode_preprocess_ms"
            case libjpeg = "libjpeg_scale_1_8_ms", djpeg = "djpeg_scale_1_8_ms"
        }

        public func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(photos, forKey: .photos)
            try container.encode(Measure.rounded(imagesPerSecond[.int8] ?? 0), forKey: .imagesPerSecond)
            try container.encode(Measure.rounded(imagesPerSecond[.fp32] ?? 0), forKey: .imagesPerSecondFloat)
            try container.encode((peakResidentMegabytes[.int8] ?? 0).rounded(), forKey: .peakRSS)
            try container.encode((peakResidentMegabytes[.fp32] ?? 0).rounded(), forKey: .peakRSSFloat)
            try container.encode(Measure.rounded(prepareSeconds), forKey: .prepare)
            try container.encode(Measure.rounded(encoderOnlyImagesPerSecond), forKey: .encoderOnly)
            try container.encode(Measure.rounded(decodePreprocessMilliseconds), forKey: .decode)
            try container.encode(Measure.rounded(libjpegEighthMilliseconds), forKey: .libjpeg)
            try container.encode(djpegEighthMilliseconds.map { Measure.rounded($0) }, forKey: .djpeg)
        }
    }

    public var photos: Int
    /// Kept between runs: the photos and the model.
    public var folder: String
    public var width = 4000
    public var height = 3000
    public var quality = 90
    /// The random model's shape (`EncoderBenchmark.shapes`).
    public var shape = "vit-b-32"

    public init(photos: Int, folder: String) {
        self.photos = photos
        self.folder = folder
    }

    var photoFolder: String { folder + "/photos" }
    var modelFolder: String { folder + "/" + shape }
    var cacheFolder: String { folder + "/cache" }
    func databasePath(_ precision: Precision) -> String { folder + "/index-\(precision.rawValue).sqlite" }

    /// Makes whatever is missing (photos, model), indexes with `executable`
    /// in both precisions, and measures.
    public func run(sources: [Bitmap], executable: String, log: (String) -> Void) throws -> Figures {
        let paths = try preparePhotos(sources: sources, log: log)
        if !RandomModel.isWritten(modelFolder) {
            let configuration = try RandomModel.configuration(shape: shape)
            log("writing a random \(shape) to \(modelFolder)")
            try RandomCheckpoint.write(configuration, towers: .both, to: modelFolder)
        }
        var environment = ProcessInfo.processInfo.environment
        environment["XDG_CACHE_HOME"] = cacheFolder
        let empty = folder + "/empty"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)

        var rates: [Precision: Double] = [:], peaks: [Precision: Double] = [:]
        var prepare = 0.0
        for precision in [Precision.int8, .fp32] {
            for suffix in ["", "-wal", "-shm", ".vectors", ".lock"] {
                try? FileManager.default.removeItem(atPath: databasePath(precision) + suffix)
                try? FileManager.default.removeItem(atPath: folder + "/prepare.sqlite" + suffix)
            }
            // A first run over an empty folder prepares both towers.
            try? FileManager.default.removeItem(atPath: cacheFolder)
            let prepareArguments = ["index", empty, "--db", folder + "/prepare.sqlite", "--model", modelFolder,
                                    "--precision", precision.rawValue]
            guard let prepared = Measure.child(executable, prepareArguments, environment: environment) else {
                throw BenchmarkError.incompleteRun("\(executable) \(prepareArguments.joined(separator: " ")) failed")
            }
            if precision == .int8 { prepare = prepared.seconds }
            log("indexing \(paths.count) photos, \(precision.rawValue)")
            let arguments = ["index", photoFolder, "--db", databasePath(precision), "--model", modelFolder, "--precision", precision.rawValue]
            guard let run = Measure.child(executable, arguments, environment: environment) else {
                throw BenchmarkError.incompleteRun("\(executable) \(arguments.joined(separator: " ")) failed")
            }
            rates[precision] = Double(paths.count) / run.seconds
            peaks[precision] = run.peakResidentMegabytes
        }

        // The encoder alone, batch 16.
        let model = try CLIPModel(directory: modelFolder, towers: .image, precision: .int8)
        let pixels = [Float](repeating: 0.1, count: 16 * model.preprocessor.valuesPerImage)
        _ = model.encode(pixelValues: pixels, count: 16)
        let encoderSeconds = Measure.milliseconds { _ = model.encode(pixelValues: pixels, count: 16) } / 1000

        // Decoding alone, on the first files (now in the page cache).
        let decoder = ImageDecoder()
        let size = model.configuration.vision.imageSize
        var ours: [Double] = [], libjpeg: [Double] = [], djpeg: [Double] = []
        for path in paths.prefix(20) {
            ours.append(try Measure.milliseconds {
                let photo = try decoder.decode(path: path, minimumShortSide: size)
                _ = model.preprocessor.pixelValues(photo.bitmap)
            })
            libjpeg.append(try Measure.milliseconds { _ = try decoder.decode(path: path, minimumShortSide: 1) })
            if FileManager.default.isExecutableFile(atPath: "/usr/bin/djpeg"),
               let time = Measure.process("/usr/bin/djpeg", ["-scale", "1/8", "-outfile", "/dev/null", path]) {
                djpeg.append(time)
            }
        }
        let bytes = paths.compactMap { try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? NSNumber }.map(\.intValue)
        var figures = Figures(photos: paths.count, megapixels: Double(width * height) / 1e6,
                       averageFileBytes: bytes.reduce(0, +) / max(bytes.count, 1),
                       imagesPerSecond: rates, peakResidentMegabytes: peaks, prepareSeconds: prepare,
                       encoderOnlyImagesPerSecond: 16 / encoderSeconds,
                       decodePreprocessMilliseconds: Measure.median(ours),
                       libjpegEighthMilliseconds: Measure.median(libjpeg),
                       djpegEighthMilliseconds: djpeg.isEmpty ? nil : Measure.median(djpeg))
        figures.imageSize = size
        return figures
    }

    /// The JPEG paths, generating any that are missing: each a source photo
    /// scaled up to `width × height` with a different crop and sensor-like
    /// noise, so that every file has distinct content (no copy shortcuts).
    func preparePhotos(sources: [Bitmap], log: (String) -> Void) throws -> [String] {
        try FileManager.default.createDirectory(atPath: photoFolder, withIntermediateDirectories: true)
        let paths = (0..<photos).map { String(format: "%@/IMG_%05d.jpg", photoFolder, $0) }
        let missing = paths.enumerated().filter { !FileManager.default.fileExists(atPath: $0.element) }
        if !missing.isEmpty { log("making \(missing.count) synthetic \(width)x\(height) JPEGs in \(photoFolder)") }
        let failures = Mutex<[String]>([])
        let (width, height, quality) = (self.width, self.height, self.quality)
        DispatchQueue.concurrentPerform(iterations: missing.count) { slot in
            let (index, path) = missing[slot]
            let image = Self.synthesize(from: sources[index % sources.count], seed: UInt64(index), width: width, height: height)
            do {
                try Data(try JPEGEncoder.encode(image, quality: quality)).write(to: URL(fileURLWithPath: path))
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        if let first = failures.withLock({ $0.first }) { throw BenchmarkError.cannotPrepare(path: photoFolder, reason: first) }
        return paths
    }

    static func synthesize(from source: Bitmap, seed: UInt64, width: Int, height: Int) -> Bitmap {
        let rgb = source.droppingAlpha()
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        let zoom = 0.8 + Double(seed % 7) * 0.03       // each photo a slightly different crop
        let offsetX = Double(seed % 13) / 13 * (1 - zoom) * Double(rgb.width)
        let offsetY = Double(seed % 11) / 11 * (1 - zoom) * Double(rgb.height)
        let scaleX = zoom * Double(rgb.width - 1) / Double(width), scaleY = zoom * Double(rgb.height - 1) / Double(height)
        rgb.pixels.withUnsafeBufferPointer { source in
            pixels.withUnsafeMutableBufferPointer { target in
                for y in 0..<height {
                    let sy = offsetY + Double(y) * scaleY
                    let y0 = min(Int(sy), rgb.height - 2), fy = sy - Double(y0)
                    for x in 0..<width {
                        let sx = offsetX + Double(x) * scaleX
                        let x0 = min(Int(sx), rgb.width - 2), fx = sx - Double(x0)
                        state = state &* 6364136223846793005 &+ 1442695040888963407
                        let noise = Int(state >> 60) - 8      // -8...7, sensor grain (camera-like file sizes)
                        for channel in 0..<3 {
                            let a = Double(source[(y0 * rgb.width + x0) * 3 + channel])
                            let b = Double(source[(y0 * rgb.width + x0 + 1) * 3 + channel])
                            let c = Double(source[((y0 + 1) * rgb.width + x0) * 3 + channel])
                            let d = Double(source[((y0 + 1) * rgb.width + x0 + 1) * 3 + channel])
                            let value = (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy
                            target[(y * width + x) * 3 + channel] = UInt8(max(0, min(255, Int(value) + noise)))
                        }
                    }
                }
            }
        }
        return Bitmap(width: width, height: height, layout: .rgb, pixels: pixels)
    }
}
