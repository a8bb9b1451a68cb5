import CLIP
import Dispatch
import Foundation
import Synchronization
import Imaging
#if canImport(Glibc)
import Glibc
#endif

/// `photosearch bench index`: synthetic camera-sized JPEGs indexed end to end
/// with a ViT-B/32-shaped random model, plus the decoding figures to compare
/// with libjpeg-turbo's own `djpeg -scale 1/8`.
public struct IndexBenchmark: Sendable {
    public struct Figures: Sendable {
        public var photos: Int
        public var megapixels: Double
        public var averageFileBytes: Int
        public var endToEndImagesPerSecond: Double
        public var encoderOnlyImagesPerSecond: Double
        public var peakResidentMegabytes: Double
        public var decodePreprocessMilliseconds: Double
        public var libjpegEighthMilliseconds: Double
        public var djpegEighthMilliseconds: Double?
    }

    public var photos: Int
    public var folder: String
    public var width = 4000
    public var height = 3000
    public var quality = 90

    public init(photos: Int, folder: String) {
        self.photos = photos
        self.folder = folder
    }

    /// The JPEG paths, generating any that are missing: each a fixture photo
    /// scaled up to `width × height` with a different crop and sensor-like
    /// noise, so that every file has distinct content (no copy shortcuts).
    public func preparePhotos(sources: [Bitmap], log: (String) -> Void) throws -> [String] {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let paths = (0..<photos).map { String(format: "%@/IMG_%05d.jpg", folder, $0) }
        let missing = paths.enumerated().filter { !FileManager.default.fileExists(atPath: $0.element) }
        if !missing.isEmpty { log("making \(missing.count) synthetic \(width)x\(height) JPEGs in \(folder)") }
        let failures = Mutex<[String]>([])
        let (width, height, quality) = (self.width, self.height, self.quality)
        DispatchQueue.concurrentPerform(iterations: missing.count) { slot in
            let (index, path) = missing[slot]
            let image = Self.synthesize(from: sources[index % sources.count], seed: UInt64(index), width: width, height: height)
            do {
                try Data(try JPEGEncoder.encode(image, quality: quality)).write(to: URL(fileURLWithPath: path))
            } catch {
                failures.withLock { $0.append("\(path): \(error)") }
            }
        }
        if let first = failures.withLock({ $0.first }) { throw PhotoIndexError.database(path: folder, reason: first) }
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

    /// Indexes `paths` into a fresh database with a random ViT-B/32 and measures.
    public func run(paths: [String], databasePath: String, log: (String) -> Void) throws -> Figures {
        let model = try CLIPModel(randomWeights: .vitB32, towers: .image)
        let size = model.configuration.vision.imageSize

        // Decoding alone, on the first files (already in the page cache).
        let sample = Array(paths.prefix(20))
        let decoder = ImageDecoder()
        var ours: [Double] = [], libjpeg: [Double] = [], djpeg: [Double] = []
        for path in sample {
            ours.append(try Self.milliseconds {
                let photo = try decoder.decode(path: path, minimumShortSide: size)
                _ = model.preprocessor.pixelValues(photo.bitmap)
            })
            libjpeg.append(try Self.milliseconds { _ = try decoder.decode(path: path, minimumShortSide: 1) })
            if let time = Self.djpegMilliseconds(path) { djpeg.append(time) }
        }

        // Encoder alone, batch 16.
        let pixels = [Float](repeating: 0.1, count: 16 * model.preprocessor.valuesPerImage)
        _ = model.encode(pixelValues: pixels, count: 16)
        let encoderSeconds = try Self.milliseconds { _ = model.encode(pixelValues: pixels, count: 16) } / 1000

        // End to end.
        try? FileManager.default.removeItem(atPath: databasePath)
        let database = try IndexDatabase(path: databasePath, create: true)
        let identity = ModelIdentity(name: "random-vit-b-32", embeddingSize: model.embeddingSize, checksum: "random:1",
                                     weightsPath: "", weightsSize: 0, weightsModifiedAt: 0)
        var options = IndexingOptions(roots: paths)
        options.batchSize = 16
        log("indexing \(paths.count) photos with \(options.jobs) decoding threads")
        let summary = try Indexer(database: database, model: model, identity: identity).run(options)
        guard summary.added == paths.count else {
            throw PhotoIndexError.database(path: databasePath, reason: "only \(summary.added) of \(paths.count) photos were indexed")
        }
        let bytes = paths.compactMap { try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? NSNumber }.map(\.intValue)
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Figures(photos: paths.count, megapixels: Double(width * height) / 1e6,
                       averageFileBytes: bytes.reduce(0, +) / max(bytes.count, 1),
                       endToEndImagesPerSecond: Double(paths.count) / summary.seconds,
                       encoderOnlyImagesPerSecond: 16 / encoderSeconds,
                       peakResidentMegabytes: Double(usage.ru_maxrss) / 1024,
                       decodePreprocessMilliseconds: Self.median(ours),
                       libjpegEighthMilliseconds: Self.median(libjpeg),
                       djpegEighthMilliseconds: djpeg.isEmpty ? nil : Self.median(djpeg))
    }

    static func milliseconds(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }

    /// Wall time of `djpeg -scale 1/8 -outfile /dev/null FILE` (libjpeg-turbo-progs),
    /// process start included; nil when djpeg is not installed.
    static func djpegMilliseconds(_ path: String) -> Double? {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/djpeg") else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/djpeg")
        process.arguments = ["-scale", "1/8", "-outfile", "/dev/null", path]
        let start = DispatchTime.now().uptimeNanoseconds
        guard (try? process.run()) != nil else { return nil }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    }
}
