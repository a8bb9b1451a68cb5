import Compute
import Foundation
import TestSupport

/// Synthetic embeddings with the structure of a photo library's: topics
/// (256 directions: beaches, birthdays, documents…), events within a topic
/// (a day at the beach: ~200 photos, centre at cosine ~0.7 to its topic's),
/// photos within an event (cosine ~0.6 to its centre). Uniform random
/// vectors would make a partitioned search look worse than it is on real
/// embeddings, which are clustered.
///
/// Any row is computed on its own from its number (only the event centres
/// are kept: 100 MB at ten million rows), so that ten million rows of 512
/// (20 GB as float32) are written and checked a block at a time.
struct ClusteredVectors: Sendable {
    let count: Int
    let dimension: Int
    let seed: UInt64
    let events: Int
    /// The share of rows that are near-copies of a row shortly before them
    /// (bursts of shots: cosine 0.93–0.99 to it), for `duplicates`.
    let bursts: Double
    /// events × dimension, unit rows.
    private let centres: [Float]

    static let topics = 256

    init(count: Int, dimension: Int, seed: UInt64, bursts: Double = 0) {
        self.count = count
        self.dimension = dimension
        self.seed = seed
        self.bursts = bursts
        events = max(1, count / 200)
        var topics = [Float](repeating: 0, count: Self.topics * dimension)
        var generator = SplitMix64(seed: seed)
        for index in topics.indices { topics[index] = Self.noise(&generator) }
        for topic in 0..<Self.topics { Self.normalize(&topics[(topic * dimension)..<((topic + 1) * dimension)]) }
        var centres = [Float](repeating: 0, count: events * dimension)
        let events = self.events, topicDirections = topics
        centres.withUnsafeMutableBufferPointer { buffer in
            let base = SendableMutablePointer(buffer.baseAddress!)
            Parallel.run(Parallel.ranges(of: events, work: events * dimension, minimumWork: 0)) { _, range in
                for event in range {
                    var generator = SplitMix64(seed: seed ^ 0xE7E7 &+ UInt64(event) &* 0x9E37_79B9_7F4A_7C15)
                    let topic = Int(generator.next() % UInt64(Self.topics))
                    Self.mix(topicDirections.withUnsafeBufferPointer { UnsafeBufferPointer(rebasing: $0[(topic * dimension)..<((topic + 1) * dimension)]) },
                             spread: 1.2, generator: &generator, into: base.pointer + event * dimension, dimension: dimension)
                }
            }
        }
        self.centres = centres
    }

    /// Row `row` into `target` (dimension values, unit length).
    func row(_ row: Int, into target: UnsafeMutablePointer<Float>) {
        if bursts > 0, row > 0 {
            // A near-copy of one of the 50 rows before (itself computed from
            // its number, a near-copy in turn with probability `bursts`).
            var generator = SplitMix64(seed: seed ^ 0xB0B0_0B0B &+ UInt64(row) &* 0x9E37_79B9_7F4A_7C15)
            if generator.uniform() < bursts {
                self.row(max(0, row - 1 - Int(generator.next() % 50)), into: target)
                let source = Array(UnsafeBufferPointer(start: target, count: dimension))
                source.withUnsafeBufferPointer {
                    Self.mix($0, spread: Float(0.14 + 0.26 * generator.uniform()), generator: &generator, into: target, dimension: dimension)
                }
                return
            }
        }
        var generator = SplitMix64(seed: seed &+ 0x5151 &+ UInt64(row) &* 0xD1B5_4A32_D192_ED03)
        let event = Int(generator.next() % UInt64(events))
        centres.withUnsafeBufferPointer { centres in
            Self.mix(UnsafeBufferPointer(rebasing: centres[(event * dimension)..<((event + 1) * dimension)]), spread: 1.75,
                     generator: &generator, into: target, dimension: dimension)
        }
    }

    /// A query: as a text query is, about two things at once ("a dog on a
    /// beach"): the normalised sum of two random events' centres, as far
    /// from it as photos are from theirs (`number` picks which), so that its
    /// best matches lie in more than one cluster.
    func query(_ number: Int, into target: UnsafeMutablePointer<Float>) {
        var generator = SplitMix64(seed: seed ^ 0xABCD_EF01 &+ UInt64(number) &* 0x9E37_79B9_7F4A_7C15)
        let first = Int(generator.next() % UInt64(events)), second = Int(generator.next() % UInt64(events))
        var both = [Float](repeating: 0, count: dimension)
        for k in 0..<dimension { both[k] = centres[first * dimension + k] + centres[second * dimension + k] }
        Self.normalize(&both[...])
        both.withUnsafeBufferPointer { Self.mix($0, spread: 1.85, generator: &generator, into: target, dimension: dimension) }
    }

    /// Rows `range` into `target` (range.count × dimension), on every core.
    func rows(_ range: Range<Int>, into target: UnsafeMutablePointer<Float>) {
        let base = SendableMutablePointer(target)
        Parallel.run(Parallel.ranges(of: range.count, work: range.count * dimension, minimumWork: 1 << 16)) { _, part in
            for offset in part { row(range.lowerBound + offset, into: base.pointer + offset * dimension) }
        }
    }

    /// normalize(centre + spread · noise / √dimension): cosine ≈ 1/√(1 + spread²) to the centre.
    private static func mix(_ centre: UnsafeBufferPointer<Float>, spread: Float, generator: inout SplitMix64,
                            into target: UnsafeMutablePointer<Float>, dimension: Int) {
        let scale = spread / Float(dimension).squareRoot()
        var norm: Float = 0
        for k in 0..<dimension {
            let value = centre[k] + scale * noise(&generator)
            target[k] = value
            norm += value * value
        }
        let inverse = 1 / norm.squareRoot()
        for k in 0..<dimension { target[k] *= inverse }
    }

    /// Zero mean, unit variance (uniform on ±√3: in hundreds of dimensions
    /// as good as Gaussian, and ten times cheaper).
    private static func noise(_ generator: inout SplitMix64) -> Float {
        let root3: Float = 1.732_050_8
        return Float(generator.next() >> 40) * (2 * root3 / Float(1 << 24)) - root3
    }

    private static func normalize(_ values: inout ArraySlice<Float>) {
        let norm = values.reduce(0) { $0 + $1 * $1 }.squareRoot()
        for index in values.indices { values[index] /= norm }
    }
}
