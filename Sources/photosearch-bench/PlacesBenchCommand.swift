import ArgumentParser
import Foundation
import PhotoSearchBenchmarks

struct PlacesBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "places",
        abstract: "Time loading the built-in places and looking up positions (offline reverse geocoding)."
    )

    @Option(name: .long, help: "Positions to look up, near places and uniform over the sphere.")
    var lookups = 100_000

    @Option(name: .long, help: "Photos in a synthetic index (positions clustered as a library's are) to derive places for and search with place filters; 0: none.")
    var photos = 100_000

    @Option(name: .long, help: "Where the synthetic index and its random model are kept between runs.")
    var folder = FileManager.default.temporaryDirectory.appendingPathComponent("photosearch-bench-places").path

    func validate() throws {
        guard (1...10_000_000).contains(lookups) else { throw ValidationError("--lookups must be between 1 and 10000000") }
        guard (0...10_000_000).contains(photos) else { throw ValidationError("--photos must be between 0 and 10000000") }
    }

    func run() throws {
        try benchReporting {
            var benchmark = PlacesBenchmark(lookups: lookups)
            benchmark.photos = photos
            benchmark.folder = folder
            let figures = try benchmark.run(log: { benchOutput($0 + "\n") })
            benchOutput("""
                \(figures.places) places loaded in \(figures.loadMilliseconds) ms
                \(figures.lookups) positions near places: \(figures.nearPlacesMilliseconds) ms (\(figures.microsecondsPerLookup) µs each, \(figures.found) with a place within 100 km)
                \(figures.lookups) positions uniform over the sphere: \(figures.uniformMilliseconds) ms

                """)
            if let index = figures.index {
                var text = """
                    index of \(index.photos) photos, \(index.withPosition) with a position, \(index.withPlace) with a place
                    deriving every place: \(index.passSeconds) s (runs: \(index.passes.map { String($0) }.joined(separator: ", ")))
                    top-10 search, no filter: \(index.searchMilliseconds) ms p50

                    """
                for filter in index.filters {
                    text += "  \(filter.filter) (\(filter.photos) photos): \(filter.searchMilliseconds) ms p50, +\(filter.addedMilliseconds) ms\n"
                }
                benchOutput(text + "\n")
            }
            try benchJSON(figures)
        }
    }
}
