import Foundation
import Places
import TestSupport

/// Offline reverse geocoding: loading the built-in places (decompressing,
/// checking, building the k-d tree) and looking up positions.
public struct PlacesBenchmark {
    public struct Figures: Codable, Sendable {
        public let places: Int
        public let loadMilliseconds: Double
        /// Positions within ~10 km of a place, as photos' are.
        public let lookups: Int
        public let nearPlacesMilliseconds: Double
        /// Positions uniform over the sphere (mostly sea: the slowest case).
        public let uniformMilliseconds: Double
        public let microsecondsPerLookup: Double
        public let found: Int

        enum CodingKeys: String, CodingKey {
            case places, lookups, found
            case loadMilliseconds = "load_ms", nearPlacesMilliseconds = "near_places_ms", uniformMilliseconds = "uniform_ms"
            case microsecondsPerLookup = "us_per_lookup"
        }
    }

    public let lookups: Int

    public init(lookups: Int) {
        self.lookups = lookups
    }

    public func run() throws -> Figures {
        var directory: PlaceDirectory?
        let load = try Measure.milliseconds { directory = try PlaceDirectory.builtIn() }
        guard let directory else { throw PlacesError.unavailable }
        var generator = SplitMix64(seed: 42)
        let near: [(Double, Double)] = (0..<lookups).map { _ in
            let place = directory.place(Int(generator.next() % UInt64(directory.count)))
            return (max(-90, min(90, place.latitude + generator.uniform(-0.1, 0.1))),
                    (place.longitude + generator.uniform(-0.1, 0.1) + 540).truncatingRemainder(dividingBy: 360) - 180)
        }
        let uniform: [(Double, Double)] = (0..<lookups).map { _ in
            (asin(generator.uniform(-1, 1)) * 180 / .pi, generator.uniform(-180, 180))
        }
        var found = 0
        let nearTime = Measure.milliseconds {
            for (latitude, longitude) in near where directory.nearest(latitude: latitude, longitude: longitude) != nil { found += 1 }
        }
        let uniformTime = Measure.milliseconds {
            for (latitude, longitude) in uniform { _ = directory.nearest(latitude: latitude, longitude: longitude) }
        }
        return Figures(places: directory.count, loadMilliseconds: Measure.rounded(load), lookups: lookups,
                       nearPlacesMilliseconds: Measure.rounded(nearTime), uniformMilliseconds: Measure.rounded(uniformTime),
                       microsecondsPerLookup: Measure.rounded(nearTime * 1000 / Double(max(1, lookups))), found: found)
    }
}


private extension SplitMix64 {
    /// Uniform in (low, high).
    mutating func uniform(_ low: Double, _ high: Double) -> Double { low + (high - low) * uniform() }
}
