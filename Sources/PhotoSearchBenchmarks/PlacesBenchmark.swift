import Compute
import Foundation
import PhotoIndex
import Places
import TestSupport

/// Offline reverse geocoding: loading the built-in places (decompressing,
/// checking, building the k-d tree) and looking up positions; then, in an
/// index of synthetic photos with positions, the pass that derives their
/// places (as an index run's end does for an index made before places) and
/// what place filters add to a search.
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

        /// The index part (nil without one).
        public var index: IndexFigures?

        enum CodingKeys: String, CodingKey {
            case places, lookups, found, index
            case loadMilliseconds = "load_ms", nearPlacesMilliseconds = "near_places_ms", uniformMilliseconds = "uniform_ms"
            case microsecondsPerLookup = "us_per_lookup"
        }
    }

    public struct IndexFigures: Codable, Sendable {
        public let photos: Int
        /// Photos with a position, and how many got a place.
        public let withPosition: Int
        public let withPlace: Int
        /// The pass over every position (loading the data included), median of `passes`.
        public let passSeconds: Double
        public let passes: [Double]
        /// In-process top-10 searches by vector, p50, with no filter and with
        /// each filter; the photos each filter lets through.
        public let searchMilliseconds: Double
        public let filters: [Filter]

        public struct Filter: Codable, Sendable {
            public let filter: String
            public let photos: Int
            public let searchMilliseconds: Double
            public let addedMilliseconds: Double

            enum CodingKeys: String, CodingKey {
                case filter, photos, searchMilliseconds = "search_p50_ms", addedMilliseconds = "added_ms"
            }
        }

        enum CodingKeys: String, CodingKey {
            case photos, filters, passes
            case withPosition = "with_position", withPlace = "with_place", passSeconds = "pass_seconds"
            case searchMilliseconds = "search_p50_ms"
        }
    }

    public let lookups: Int
    /// Photos in the index part (0: none), kept in `folder` between runs.
    public var photos = 0
    public var folder = ""
    public var queries = 200
    public var passes = 3

    public init(lookups: Int) {
        self.lookups = lookups
    }

    public func run(log: (String) -> Void = { _ in }) throws -> Figures {
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
                       microsecondsPerLookup: Measure.rounded(nearTime * 1000 / Double(max(1, lookups))), found: found,
                       index: photos > 0 ? try indexFigures(directory, log: log) : nil)
    }

    /// The photos' positions: a library is clustered where its owner lives
    /// and travels. 35 % around places in Portugal, 55 % around 2 000 places
    /// anywhere (a few much more than others), 10 % without a position.
    static func positions(count: Int, directory: PlaceDirectory) -> [(latitude: Double, longitude: Double)?] {
        var generator = SplitMix64(seed: 7)
        let portugal = (0..<directory.count).filter { directory.place($0).countryCode == "PT" }
        let travels = (0..<2000).map { _ in Int(generator.next() % UInt64(directory.count)) }
        return (0..<count).map { _ in
            let draw = generator.uniform()
            guard draw < 0.9 else { return nil }
            let id: Int
            if draw < 0.35 {
                id = portugal[Int(generator.next() % UInt64(portugal.count))]
            } else {
                // Skewed: the first places are visited far more often.
                id = travels[min(travels.count - 1, Int(Double(travels.count) * pow(generator.uniform(), 3)))]
            }
            let place = directory.place(id)
            return (max(-90, min(90, place.latitude + generator.uniform(-0.05, 0.05))),
                    (place.longitude + generator.uniform(-0.05, 0.05) + 540).truncatingRemainder(dividingBy: 360) - 180)
        }
    }

    func indexFigures(_ directory: PlaceDirectory, log: (String) -> Void) throws -> IndexFigures {
        let dimension = 512
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let modelPath = folder + "/vit-b-32-text"
        if !RandomModel.isWritten(modelPath) {
            log("writing a random vit-b-32 text tower to \(modelPath)")
            try RandomCheckpoint.write(try RandomModel.configuration(shape: "vit-b-32"), towers: .text, to: modelPath)
        }
        let databasePath = folder + "/places-\(photos).sqlite"
        let marker = databasePath + ".done"
        if !FileManager.default.fileExists(atPath: marker) {
            log("writing \(photos) photos with positions into \(databasePath)")
            for suffix in ["", "-wal", "-shm", ".vectors", ".lock"] { try? FileManager.default.removeItem(atPath: databasePath + suffix) }
            let positions = Self.positions(count: photos, directory: directory)
            try SyntheticIndex.insertPhotos(into: PhotoLibrary(database: databasePath, model: modelPath),
                                            vectors: SearchBenchmark.unitVectors(count: photos, dimension: dimension, seed: 3),
                                            dimension: dimension, precision: .int8, path: SearchBenchmark.photoPath,
                                            position: { positions[$0] })
            _ = FileManager.default.createFile(atPath: marker, contents: nil)
        }
        let library = PhotoLibrary(database: databasePath, model: modelPath)
        // The pass from nothing, as for an index made before places.
        var passTimes: [Double] = []
        for _ in 0..<passes {
            try SyntheticIndex.forgetPlaces(in: library)
            passTimes.append(try Measure.milliseconds { try SyntheticIndex.derivePlaces(in: library) } / 1000)
        }
        let status = try library.status()

        // Searches, unfiltered and filtered, interleaved so that drift
        // falls on all alike.
        let circle = try SearchFilter.Circle(latitude: 38.72, longitude: -9.14, radiusKilometres: 50)
        let filters: [(String, SearchFilter)] = [
            ("place=Porto", SearchFilter(places: ["Porto"])),
            ("place=Portugal", SearchFilter(places: ["Portugal"])),
            ("near=38.72,-9.14,50", SearchFilter(near: circle)),
        ]
        // The photos each lets through.
        let inCircle = Self.positions(count: photos, directory: directory).count { position in
            guard let position else { return false }
            return PlaceDirectory.distanceKilometres(from: (circle.latitude, circle.longitude), to: position) <= circle.radiusKilometres
        }
        let allowed = [try library.places(named: "Porto").reduce(0) { $0 + $1.photos },
                       try library.places(named: "Portugal").reduce(0) { $0 + $1.photos }, inCircle]
        let queryData = SearchBenchmark.unitVectors(count: queries, dimension: dimension, seed: 98)
        _ = try library.search(vector: Array(queryData[0..<dimension]))   // writes the vector file
        var unfiltered: [Double] = []
        var filtered = [[Double]](repeating: [], count: filters.count)
        for query in 0..<queries {
            let vector = Array(queryData[(query * dimension)..<((query + 1) * dimension)])
            unfiltered.append(try Measure.milliseconds { _ = try library.search(vector: vector, .init(top: 10)) })
            for (index, (_, filter)) in filters.enumerated() {
                filtered[index].append(try Measure.milliseconds { _ = try library.search(vector: vector, .init(top: 10, filter: filter)) })
            }
        }
        let base = Measure.median(unfiltered)
        return IndexFigures(
            photos: photos, withPosition: status.withPosition, withPlace: status.withPlace,
            passSeconds: Measure.rounded(Measure.median(passTimes), decimals: 3), passes: passTimes.map { Measure.rounded($0, decimals: 3) },
            searchMilliseconds: Measure.rounded(base, decimals: 3),
            filters: filters.enumerated().map { index, filter in
                IndexFigures.Filter(filter: filter.0, photos: allowed[index], searchMilliseconds: Measure.rounded(Measure.median(filtered[index]), decimals: 3),
                                    addedMilliseconds: Measure.rounded(Measure.median(filtered[index]) - base, decimals: 3))
            })
    }
}


private extension SplitMix64 {
    /// Uniform in (low, high).
    mutating func uniform(_ low: Double, _ high: Double) -> Double { low + (high - low) * uniform() }
}
