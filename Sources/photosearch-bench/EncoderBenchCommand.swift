import ArgumentParser
import CLIP
import ModelHub
import PhotoSearchBenchmarks

extension Precision: ExpressibleByArgument {}

struct EncoderBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encoder",
        abstract: "Time an encoder: images/s at batch 1, 8, 32 and one text query.",
        discussion: """
        A model the user has (--model, an installed model's name or a model folder), or random weights in a \
        published shape (--shape; ViT-B/32 by default): speed does not depend on the weights' values.
        """
    )

    @Option(name: .long, help: "An installed model's name or a model folder to time.")
    var model: String?

    @Option(name: .long, help: "Random weights in this shape: \(EncoderBenchmark.shapes.keys.sorted().joined(separator: ", ")).")
    var shape: String?

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
        guard model == nil || shape == nil else { throw ValidationError("--model and --shape cannot be used together.") }
        guard images || text else { throw ValidationError("--no-images and --no-text leave nothing to time.") }
        if let shape, EncoderBenchmark.shapes[shape] == nil {
            throw ValidationError("--shape must be one of \(EncoderBenchmark.shapes.keys.sorted().joined(separator: ", ")).")
        }
    }

    func run() throws {
        try benchReporting {
            var choice = EncoderBenchmark.Model.shape(shape ?? "vit-b-32")
            if let model { choice = .directory(try ModelStore.standard().resolve(model)) }
            let benchmark = EncoderBenchmark(batches: batches, seconds: seconds, images: images, text: text,
                                             precision: precision, model: choice)
            let figures = try benchmark.run { benchOutput($0 + "\n") }
            try benchJSON(figures)
        }
    }
}
