import ArgumentParser
import PhotoSearchBenchmarks

struct PlacesBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "places",
        abstract: "Time loading the built-in places and looking up positions (offline reverse geocoding)."
    )

    @Option(name: .long, help: "Positions to look up, near places and uniform over the sphere.")
    var lookups = 100_000

    func validate() throws {
        guard (1...10_000_000).contains(lookups) else { throw ValidationError("--lookups must be between 1 and 10000000") }
    }

    func run() throws {
        try benchReporting {
            let figures = try PlacesBenchmark(lookups: lookups).run()
            benchOutput("""
                \(figures.places) places loaded in \(figures.loadMilliseconds) ms
                \(figures.lookups) positions near places: \(figures.nearPlacesMilliseconds) ms (\(figures.microsecondsPerLookup) µs each, \(figures.found) with a place within 100 km)
                \(figures.lookups) positions uniform over the sphere: \(figures.uniformMilliseconds) ms

                """)
            try benchJSON(figures)
        }
    }
}
