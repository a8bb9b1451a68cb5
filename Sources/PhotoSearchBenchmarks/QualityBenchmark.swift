import CLIP
import Compute
import Imaging

/// `photosearch-bench quality`: how much int8 changes a ViT-B/32-shaped
/// model's answers. One random, input-sensitive model (weights drawn as the
/// reference fixtures draw them) embeds the same photos and captions in
/// float32 and in int8; the figures are the cosine between the two
/// embeddings of each input, and how often a search's top 10 over the photos
/// changes: for every caption and every photo used as the query.
public struct QualityBenchmark: Sendable {
    public struct Figures: Encodable, Sendable {
        public var photos: Int
        public var captions: Int
        public var worstCosine: Double
        public var meanCosine: Double
        public var worstPhotoCosine: Double
        public var worstCaptionCosine: Double
        /// Mean cosine between different photos' float32 embeddings: well
        /// below 0.9 means the random model tells photos apart.
        public var meanCrossPhotoCosine: Double
        /// Queries whose top 10 holds other photos / the same in another order.
        public var top10SetChanged: Double
        public var top10OrderChanged: Double
        public var meanOverlapAt10: Double
        public var kernels: String

        private enum Keys: String, CodingKey {
            case photos, captions, worstCosine = "worst_cosine", meanCosine = "mean_cosine"
            case worstPhotoCosine = "worst_photo_cosine", worstCaptionCosine = "worst_caption_cosine"
            case meanCrossPhotoCosine = "mean_cross_photo_cosine", top10SetChanged = "top10_set_changed"
            case top10OrderChanged = "top10_order_changed", meanOverlapAt10 = "mean_overlap_at_10", kernels
        }

        public func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(photos, forKey: .photos)
            try container.encode(captions, forKey: .captions)
            try container.encode(Measure.rounded(worstCosine, decimals: 6), forKey: .worstCosine)
            try container.encode(Measure.rounded(meanCosine, decimals: 6), forKey: .meanCosine)
            try container.encode(Measure.rounded(worstPhotoCosine, decimals: 6), forKey: .worstPhotoCosine)
            try container.encode(Measure.rounded(worstCaptionCosine, decimals: 6), forKey: .worstCaptionCosine)
            try container.encode(Measure.rounded(meanCrossPhotoCosine, decimals: 4), forKey: .meanCrossPhotoCosine)
            try container.encode(Measure.rounded(top10SetChanged, decimals: 4), forKey: .top10SetChanged)
            try container.encode(Measure.rounded(top10OrderChanged, decimals: 4), forKey: .top10OrderChanged)
            try container.encode(Measure.rounded(meanOverlapAt10, decimals: 4), forKey: .meanOverlapAt10)
            try container.encode(kernels, forKey: .kernels)
        }
    }

    /// Captions searched with; any text will do for a random model, but
    /// these are what a user types.
    static let captions = [
        "a cat", "a ginger cat lying on a rug", "a cup of coffee", "coffee with latte art on a wooden table",
        "an astronaut", "a portrait of a woman in a space suit", "a rocket on the launch pad", "a space shuttle",
        "a man with a camera", "a black and white photo of a photographer", "a dog running on the beach at sunset",
        "snowy mountains", "a birthday cake with candles", "a red bicycle against a wall", "city lights at night",
        "a bowl of fruit", "children playing football", "a sailing boat on a lake", "a plate of pasta",
        "a close-up of a flower", "a crowded market street", "an old stone bridge", "fireworks over a river",
        "a laptop on a desk", "a horse in a field", "a lighthouse in a storm", "a bookshelf full of books",
        "a smiling baby", "a train in the countryside", "autumn leaves", "海边的日落", "一只猫",
    ]

    public var sources: [Bitmap]

    public init(sources: [Bitmap]) {
        self.sources = sources
    }

    /// Each source photo in 8 versions (crops, a mirror image, lighter and
    /// darker, a tint): a collection with near neighbours, as real ones have.
    static func variations(of source: Bitmap) -> [Bitmap] {
        let rgb = source.droppingAlpha()
        func crop(_ fraction: Double, _ dx: Double, _ dy: Double) -> Bitmap {
            let width = max(8, Int(Double(rgb.width) * fraction)), height = max(8, Int(Double(rgb.height) * fraction))
            let x0 = Int(Double(rgb.width - width) * dx), y0 = Int(Double(rgb.height - height) * dy)
            var pixels = [UInt8](repeating: 0, count: width * height * 3)
            for y in 0..<height {
                for x in 0..<width {
                    for c in 0..<3 { pixels[(y * width + x) * 3 + c] = rgb.pixels[((y0 + y) * rgb.width + x0 + x) * 3 + c] }
                }
            }
            return Bitmap(width: width, height: height, layout: .rgb, pixels: pixels)
        }
        func mapped(_ transform: (Int, Int) -> Int) -> Bitmap {
            Bitmap(width: rgb.width, height: rgb.height, layout: .rgb,
                   pixels: rgb.pixels.enumerated().map { UInt8(max(0, min(255, transform($0.offset % 3, Int($0.element))))) })
        }
        var mirrored = rgb.pixels
        for y in 0..<rgb.height {
            for x in 0..<rgb.width {
                for c in 0..<3 { mirrored[(y * rgb.width + x) * 3 + c] = rgb.pixels[(y * rgb.width + rgb.width - 1 - x) * 3 + c] }
            }
        }
        return [
            rgb, crop(0.8, 0.5, 0.5), crop(0.6, 0, 0), crop(0.6, 1, 1),
            Bitmap(width: rgb.width, height: rgb.height, layout: .rgb, pixels: mirrored),
            mapped { _, v in v * 5 / 4 + 10 }, mapped { _, v in v * 3 / 4 }, mapped { c, v in c == 2 ? v / 2 : v + 20 },
        ]
    }

    public func run(log: (String) -> Void) throws -> Figures {
        let photos = sources.flatMap(Self.variations)
        let captions = Self.captions
        var embeddings: [Precision: (photos: [[Float]], captions: [[Float]])] = [:]
        for precision in [Precision.fp32, .int8] {
            log("embedding \(photos.count) photos and \(captions.count) captions in \(precision.rawValue)")
            let model = try RandomModel.load(.vitB32, seed: 1, precision: precision)
            embeddings[precision] = (model.encode(images: photos).map(VectorMath.normalized),
                                     model.encode(texts: captions).map(VectorMath.normalized))
        }
        let exact = embeddings[.fp32]!, quantised = embeddings[.int8]!
        let cosines = zip(exact.photos + exact.captions, quantised.photos + quantised.captions).map { Self.dot($0, $1) }

        var cross = 0.0, pairs = 0
        for i in exact.photos.indices {
            for j in exact.photos.indices where j > i {
                cross += Self.dot(exact.photos[i], exact.photos[j])
                pairs += 1
            }
        }

        // Every caption, and every photo (itself left out), as a query.
        var setChanged = 0, orderChanged = 0, overlap = 0
        let queries: [(exact: [Float], quantised: [Float], excluded: Int?)] =
            zip(exact.captions, quantised.captions).map { ($0, $1, nil) }
            + exact.photos.indices.map { (exact.photos[$0], quantised.photos[$0], $0) }
        for query in queries {
            let a = Self.top10(query.exact, exact.photos, excluding: query.excluded)
            let b = Self.top10(query.quantised, quantised.photos, excluding: query.excluded)
            if Set(a) != Set(b) { setChanged += 1 }
            if a != b { orderChanged += 1 }
            overlap += Set(a).intersection(b).count
        }
        return Figures(photos: photos.count, captions: captions.count, worstCosine: cosines.min() ?? 0,
                       meanCosine: cosines.reduce(0, +) / Double(cosines.count),
                       worstPhotoCosine: cosines.prefix(photos.count).min() ?? 0, worstCaptionCosine: cosines.dropFirst(photos.count).min() ?? 0,
                       meanCrossPhotoCosine: cross / Double(max(pairs, 1)),
                       top10SetChanged: Double(setChanged) / Double(queries.count),
                       top10OrderChanged: Double(orderChanged) / Double(queries.count),
                       meanOverlapAt10: Double(overlap) / Double(queries.count * 10), kernels: Kernels.active.path.rawValue)
    }

    static func dot(_ a: [Float], _ b: [Float]) -> Double {
        zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }

    static func top10(_ query: [Float], _ photos: [[Float]], excluding: Int?) -> [Int] {
        var scored: [(index: Int, score: Double)] = []
        for index in photos.indices where index != excluding { scored.append((index, dot(query, photos[index]))) }
        scored.sort { $0.score > $1.score || ($0.score == $1.score && $0.index < $1.index) }
        return scored.prefix(10).map(\.index)
    }
}
