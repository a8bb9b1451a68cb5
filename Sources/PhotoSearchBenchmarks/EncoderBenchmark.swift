import CLIP
import Compute
import Dispatch
import TestSupport

/// `photosearch-bench encoder`: a model folder the user has, or a model of a
/// published shape with random weights (throughput does not depend on the
/// values; ViT-B/32 by default): images per second through the image tower
/// at several batch sizes, and one text query's latency.
public struct EncoderBenchmark: Sendable {
    /// Which model to time.
    public enum Model: Sendable {
        /// A model folder.
        case directory(String)
        /// Random weights in a named shape (`shapes`).
        case shape(String)
    }

    /// The shapes random models can take: ViT-B/32 and SigLIP 2's.
    public static let shapes: [String: ModelConfiguration] = {
        var shapes = ["vit-b-32": ModelConfiguration.vitB32,
                      "mobileclip2-s0": ModelConfiguration.mobileCLIP2("fastvit_mci0"), "mobileclip2-s2": ModelConfiguration.mobileCLIP2("fastvit_mci2"),
                      "mobileclip2-s3": ModelConfiguration.mobileCLIP2("fastvit_mci3"), "mobileclip2-s4": ModelConfiguration.mobileCLIP2("fastvit_mci4"),
                      "mobileclip2-b": ModelConfiguration.mobileCLIP2("vit_base_mci_224"),
                      "mobileclip2-l-14": ModelConfiguration.mobileCLIP2("vit_large_patch14_clip_224")]
        for size in [224, 256, 384, 512] { shapes["siglip2-b-16-\(size)"] = .siglip2(.base, imageSize: size) }
        for size in [256, 384, 512] {
            shapes["siglip2-l-16-\(size)"] = .siglip2(.large, imageSize: size)
            shapes["siglip2-so400m-16-\(size)"] = .siglip2(.so400m, imageSize: size)
        }
        for size in [224, 384] { shapes["siglip2-so400m-14-\(size)"] = .siglip2(.so400m, patch: 14, imageSize: size) }
        return shapes
    }()

    /// The figures; as JSON, `images_per_second_bN` for each batch size N,
    /// `text_query_ms`, and the kernel path that ran.
    public struct Figures: Encodable, Sendable {
        /// Batch size → images per second.
        public var imagesPerSecond: [Int: Double]
        public var textQueryMilliseconds: Double?
        public var kernels: String
        public var precision: Precision
        public var model: String = ""

        private struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(_ name: String) { stringValue = name }
            init?(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        public func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            for (batch, rate) in imagesPerSecond {
                try container.encode(Measure.rounded(rate), forKey: Key("images_per_second_b\(batch)"))
            }
            if let textQueryMilliseconds { try container.encode(Measure.rounded(textQueryMilliseconds), forKey: Key("text_query_ms")) }
            try container.encode(kernels, forKey: Key("kernels"))
            try container.encode(precision, forKey: Key("precision"))
            try container.encode(model, forKey: Key("model"))
        }
    }

    public var batches: [Int]
    public var seconds: Double
    public var images: Bool
    public var text: Bool
    public var precision: Precision
    public var model: Model

    public init(batches: [Int], seconds: Double, images: Bool, text: Bool, precision: Precision, model: Model = .shape("vit-b-32")) {
        self.model = model
        self.batches = batches
        self.seconds = seconds
        self.images = images
        self.text = text
        self.precision = precision
    }

    public func run(log: (String) -> Void) throws -> Figures {
        let model: CLIPModel, name: String
        switch self.model {
        case let .directory(path):
            model = try CLIPModel(directory: path, precision: precision)
            name = path
        case let .shape(shape):
            let configuration = try RandomModel.configuration(shape: shape)
            log("model: random weights in the shape \(shape)")
            model = try RandomModel.load(configuration, precision: precision)
            name = shape
        }
        var figures = Figures(imagesPerSecond: [:], textQueryMilliseconds: nil, kernels: Kernels.active.path.rawValue,
                              precision: precision, model: name)
        for batch in images ? batches : [] {
            let rate = Self.imagesPerSecond(model, batch: batch, seconds: seconds)
            log("image tower, batch \(batch): \(String(format: "%.1f", rate)) images/s")
            figures.imagesPerSecond[batch] = rate
        }
        if text {
            let latency = Self.textQueryMilliseconds(model, seconds: seconds)
            log("text query: \(String(format: "%.2f", latency)) ms")
            figures.textQueryMilliseconds = latency
        }
        return figures
    }

    /// Images per second at `batch`, after one warm-up batch.
    static func imagesPerSecond(_ model: CLIPModel, batch: Int, seconds: Double) -> Double {
        var generator = SplitMix64(seed: 7)
        let pixels = (0..<(batch * model.preprocessor.valuesPerImage)).map { _ in Float(4 * generator.uniform() - 2) }
        _ = model.encode(pixelValues: pixels, count: batch)
        var images = 0
        let start = DispatchTime.now().uptimeNanoseconds
        var elapsed = 0.0
        repeat {
            _ = model.encode(pixelValues: pixels, count: batch)
            images += batch
            elapsed = Measure.seconds(since: start)
        } while elapsed < seconds || images < 2 * batch
        return Double(images) / elapsed
    }

    /// Median milliseconds to tokenize and embed one short query.
    static func textQueryMilliseconds(_ model: CLIPModel, seconds: Double) -> Double {
        let query = "a dog running on the beach at sunset"
        _ = model.encode(texts: [query])
        var samples: [Double] = []
        let start = DispatchTime.now().uptimeNanoseconds
        repeat {
            samples.append(Measure.milliseconds { _ = model.encode(texts: [query]) })
        } while Measure.seconds(since: start) < seconds || samples.count < 5
        return Measure.median(samples)
    }
}
