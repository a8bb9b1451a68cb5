import ArgumentParser
import CLIP
import Compute
import Imaging

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Print the CLIP embeddings of images and texts as JSON lines.",
        discussion: """
        One JSON object per input, in the order given on the command line:
        {"embedding":[...],"input":"...","kind":"image"|"text"}. Embeddings are \
        the projected vectors open_clip's encode_image and encode_text return, \
        not L2-normalised unless --normalize is given.
        """
    )

    @OptionGroup var model: ModelOption
    @OptionGroup var precision: PrecisionOption

    @Option(name: .long, help: "An image file to embed; repeat for several.", completion: Completions.photos)
    var image: [String] = []

    @Option(name: .long, help: "A text to embed; repeat for several.")
    var text: [String] = []

    @Flag(name: .long, help: "L2-normalise each embedding.")
    var normalize = false

    func validate() throws {
        if image.isEmpty && text.isEmpty {
            throw ValidationError("give at least one --image or --text.")
        }
    }

    /// One output line.
    struct EmbeddingLine: Encodable {
        let kind: String
        let input: String
        let embedding: [Float]
    }

    func run() throws {
        try Failure.reporting {
            let directory = try model.requiredDirectory()
            var towers: CLIPModel.Towers = []
            if !image.isEmpty { towers.insert(.image) }
            if !text.isEmpty { towers.insert(.text) }
            let clip = try CLIPModel(directory: directory, towers: towers, precision: try precision.resolved(), prepared: model.prepared)

            // Decode every image before printing anything, so that a bad file
            // fails the command without partial output; keep only the
            // preprocessed pixels (a 12 MP photo is 36 MB decoded).
            let decoder = ImageDecoder()
            var pixelValues: [Float] = []
            for path in image {
                clip.preprocessor.appendPixelValues(try decoder.decode(path: path).bitmap, to: &pixelValues)
            }
            let imageEmbeddings = image.isEmpty ? [] : clip.encode(pixelValues: pixelValues, count: image.count)
            let textEmbeddings = text.isEmpty ? [] : clip.encode(texts: text)

            var nextImage = 0, nextText = 0
            var output = ""
            for kind in InputOrder.kinds(in: CommandLine.arguments, images: image.count, texts: text.count) {
                let input: String, embedding: [Float]
                switch kind {
                case .image:
                    input = image[nextImage]
                    embedding = imageEmbeddings[nextImage]
                    nextImage += 1
                case .text:
                    input = text[nextText]
                    embedding = textEmbeddings[nextText]
                    nextText += 1
                }
                // (JSON has no NaN: damaged weights are said as such.)
                guard embedding.allSatisfy(\.isFinite) else {
                    throw CLIPError.nonFiniteEmbedding(path: directory, tower: kind.rawValue)
                }
                let vector = normalize ? VectorMath.normalized(embedding) : embedding
                output += try JSONLines.line(EmbeddingLine(kind: kind.rawValue, input: input, embedding: vector))
            }
            Terminal.output(output)
        }
    }
}

/// The order in which --image and --text options appeared on the command line
/// (ArgumentParser collects each option into its own array).
enum InputOrder {
    enum Kind: String { case image, text }

    static func kinds(in arguments: [String], images: Int, texts: Int) -> [Kind] {
        var kinds: [Kind] = []
        var index = 1
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" { break }
            if argument == "--image" || argument == "--text" {
                kinds.append(argument == "--image" ? .image : .text)
                index += 2
                continue
            }
            if argument.hasPrefix("--image=") { kinds.append(.image) }
            if argument.hasPrefix("--text=") { kinds.append(.text) }
            if argument == "--model" { index += 2; continue }
            index += 1
        }
        let counted = kinds.filter { $0 == .image }.count == images && kinds.filter { $0 == .text }.count == texts
        return counted ? kinds : Array(repeating: .image, count: images) + Array(repeating: .text, count: texts)
    }
}
