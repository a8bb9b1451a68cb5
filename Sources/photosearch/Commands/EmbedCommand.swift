import ArgumentParser
import CLIP
import Imaging

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Print the CLIP embeddings of images and texts as JSON lines.",
        discussion: """
        One JSON object per input, in the order given on the command line:
        {"kind":"image"|"text","input":"...","embedding":[...]}. Embeddings are \
        the projected vectors open_clip's encode_image and encode_text return, \
        not L2-normalised unless --normalize is given.
        """
    )

    @OptionGroup var model: ModelOption

    @Option(name: .long, help: "An image file to embed; repeat for several.")
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

    func run() throws {
        var towers: CLIPModel.Towers = []
        if !image.isEmpty { towers.insert(.image) }
        if !text.isEmpty { towers.insert(.text) }
        let clip: CLIPModel
        let directory = try model.directory()
        do {
            clip = try CLIPModel(directory: directory, towers: towers)
        } catch {
            throw Failure.exit(error)
        }

        // Decode every image before printing anything, so a bad file fails the
        // command without partial output.
        let decoder = ImageDecoder()
        var pixelValues: [Float] = []
        for path in image {
            do {
                clip.preprocessor.appendPixelValues(try decoder.decode(path: path).bitmap, to: &pixelValues)
            } catch {
                throw Failure.exit(error)
            }
        }
        var imageEmbeddings: [[Float]] = []
        let batch = 16
        for start in stride(from: 0, to: image.count, by: batch) {
            let count = min(batch, image.count - start)
            let slice = Array(pixelValues[(start * clip.preprocessor.valuesPerImage)..<((start + count) * clip.preprocessor.valuesPerImage)])
            imageEmbeddings += clip.encode(pixelValues: slice, count: count)
        }
        let textEmbeddings = text.isEmpty ? [] : clip.encode(texts: text)

        var nextImage = 0, nextText = 0
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
            let vector = normalize ? CLIPModel.normalized(embedding) : embedding
            print(JSONText.object([
                "kind": JSONText.string(kind.rawValue),
                "input": JSONText.string(input),
                "embedding": JSONText.array(vector),
            ]))
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
