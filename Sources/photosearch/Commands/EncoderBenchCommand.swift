import ArgumentParser
import CLIP

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

    func run() throws {
        let benchmark: EncoderBenchmark
        do {
            benchmark = try EncoderBenchmark(configuration: .vitB32)
        } catch {
            throw Failure.exit(error)
        }
        var figures: [(String, Double)] = []
        for batch in images ? batches : [] {
            let rate = benchmark.imagesPerSecond(batch: batch, seconds: seconds)
            print("image tower, batch \(batch): \(String(format: "%.1f", rate)) images/s")
            figures.append(("images_per_second_b\(batch)", rate))
        }
        if text {
            let latency = benchmark.textQueryMilliseconds(seconds: seconds)
            print("text query: \(String(format: "%.2f", latency)) ms")
            figures.append(("text_query_ms", latency))
        }
        print("{" + figures.map { "\"\($0.0)\":\(String(format: "%.2f", $0.1))" }.joined(separator: ",") + "}")
    }
}
