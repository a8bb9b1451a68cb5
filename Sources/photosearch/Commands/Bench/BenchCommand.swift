import ArgumentParser

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure photosearch's speed; the last line of output is JSON.",
        subcommands: [EncoderBenchCommand.self, IndexBenchCommand.self, SearchBenchCommand.self, QualityBenchCommand.self]
    )
}

/// A benchmark's progress lines, on standard error.
func benchLog(_ text: String) {
    Terminal.error("bench: \(text)\n")
}
