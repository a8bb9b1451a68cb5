import ArgumentParser
import CLIP
import PhotoSearchBenchmarks

extension Precision: ExpressibleByArgument {}

struct EncoderBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encoder",
        abstract: "Time a ViT-B/32-shaped encoder with random weights: images/s at batch 1, 8, 32 and one text query."
    )

    @Option(name: .long, help: "Seconds to spend measuring each figure.")
    var seconds: Double = 5

    @Option(name: .long, parsing: .upToNextOption, help: "Image batch sizes to time.")
    var batches: [Int] = [1, 8, 32]

    @Flag(name: .long, inversion: .prefixedNo, help: "Time the image tower.")
    var images = true

    @Flag(name: .long, inversion: .prefixedNo, help: "Time a text query.")
    var text = true

    @Option(name: .long, help: "Arithmetic of the encoder: int8 or fp32.")
    var precision: Precision = .int8

    func validate() throws {
        guard seconds > 0, seconds <= 3600 else { throw ValidationError("--seconds must be in (0, 3600].") }
        guard batches.allSatisfy({ (1...256).contains($0) }) else { throw ValidationError("--batches must be in 1...256.") }
    }

    func run() throws {
        try benchReporting {
            let benchmark = EncoderBenchmark(batches: batches, seconds: seconds, images: images, text: text,
                                             precision: precision)
            let figures = try benchmark.run { benchOutput($0 + "\n") }
            try benchJSON(figures)
        }
    }
}
