import Foundation
import Testing
import TestSupport

@Suite("photosearch embed")
struct EmbedCommandTests {
    struct Line: Decodable {
        let kind: String
        let input: String
        let embedding: [Float]
    }

    struct Reference: Decodable {
        struct Item: Decodable {
            let file: String?
            let text: String?
            let embedding: [Float]
        }
        let images: [Item]
        let texts: [Item]
    }

    func reference() throws -> Reference {
        let data = try Data(contentsOf: URL(fileURLWithPath: CommandRunner.fixture("reference/oc-vit-gelu-p16.json")))
        return try JSONDecoder().decode(Reference.self, from: data)
    }

    @Test("prints one JSON object per input, in command-line order, equal to open_clip's (fp32) or close to it (int8)",
          arguments: ["fp32", "int8"])
    func matchesReference(precision: String) throws {
        let reference = try reference()
        let square = reference.images[0], photo = reference.images[4]
        let caption = reference.texts[1], chinese = reference.texts[4]
        let arguments = [
            "embed", "--model", CommandRunner.fixture("models/oc-vit-gelu-p16"), "--precision", precision,
            "--text", caption.text!, "--image", CommandRunner.fixture(square.file!),
            "--text=\(chinese.text!)", "--image", CommandRunner.fixture(photo.file!),
        ]
        // The first run prepares both towers in an empty cache, and says so;
        // the second maps them, silently, and prints the same bytes.
        let cache = try TemporaryDirectory()
        let result = try CommandRunner.run(arguments, environment: ["XDG_CACHE_HOME": cache.path])
        #expect(result.status == 0)
        #expect(result.standardError == ["image", "text"].map {
            "photosearch: preparing oc-vit-gelu-p16 (\($0) tower, \(precision)) for this computer; later runs load it ready-made\n"
        }.joined())
        let again = try CommandRunner.run(arguments, environment: ["XDG_CACHE_HOME": cache.path])
        #expect(again.status == 0 && again.standardError.isEmpty)
        #expect(again.standardOutput == result.standardOutput)
        // The two towers, each with the note that this boot verified it (the
        // second run read them; later runs skip their checksums).
        let prepared = try FileManager.default.contentsOfDirectory(atPath: cache.path + "/photosearch/prepared").sorted()
        #expect(prepared.filter { $0.hasSuffix(".prepared") }.count == 2, "\(prepared)")
        #expect(prepared.filter { $0.hasSuffix(".prepared.verified") }.count == 2, "\(prepared)")
        #expect(prepared.count == 4, "\(prepared)")
        let lines = try result.standardOutput.split(separator: "\n").map { try JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
        #expect(lines.map(\.kind) == ["text", "image", "text", "image"])
        #expect(lines[0].input == caption.text && lines[2].input == chinese.text)
        let expected = [caption, square, chinese, photo]
        for (line, item) in zip(lines, expected) {
            var worst: Float = 0
            var dot = 0.0, a = 0.0, b = 0.0
            for (x, y) in zip(line.embedding, item.embedding) {
                worst = max(worst, abs(x - y) / max(1, abs(y)))
                dot += Double(x) * Double(y); a += Double(x * x); b += Double(y * y)
            }
            #expect(line.embedding.count == 32)
            if precision == "int8" {
                #expect(dot / (a * b).squareRoot() >= 0.995, "\(line.input)")
            } else if line.input == photo.file.map(CommandRunner.fixture) {
                #expect(dot / (a * b).squareRoot() >= 0.9999)
            } else {
                #expect(worst <= 1e-4, "\(line.input)")
            }
        }
    }

    @Test("--normalize prints unit vectors")
    func normalize() throws {
        let result = try CommandRunner.run([
            "embed", "--model", CommandRunner.fixture("models/hf-vit-quickgelu-p8"), "--normalize",
            "--text", "a cat", "--image", CommandRunner.fixture("photos/coffee-48.png"),
        ])
        #expect(result.status == 0)
        for line in result.standardOutput.split(separator: "\n") {
            let embedding = try JSONDecoder().decode(Line.self, from: Data(line.utf8)).embedding
            let norm = embedding.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            #expect(abs(norm - 1) < 1e-5)
            #expect(embedding.count == 24)
        }
    }

    @Test("a missing model directory: one line, non-zero exit")
    func missingModel() throws {
        let result = try CommandRunner.run(["embed", "--model", "/nonexistent/model", "--text", "a cat"])
        #expect(result.status == 1)
        #expect(result.standardOutput.isEmpty)
        #expect(result.standardError == "photosearch: error: model directory /nonexistent/model does not exist\n")
    }

    @Test("an unreadable image: one line, non-zero exit, no partial output")
    func badImage() throws {
        let text = CommandRunner.fixture("models/oc-vit-gelu-p16/open_clip_config.json")
        // An empty cache of its own, so that the one notice before the error
        // does not depend on which test ran first.
        let cache = try TemporaryDirectory()
        let result = try CommandRunner.run([
            "embed", "--model", CommandRunner.fixture("models/oc-vit-gelu-p16"),
            "--image", CommandRunner.fixture("photos/chelsea.png"), "--image", text,
        ], environment: ["XDG_CACHE_HOME": cache.path])
        #expect(result.status == 1)
        #expect(result.standardOutput.isEmpty)
        #expect(result.standardError == """
            photosearch: preparing oc-vit-gelu-p16 (image tower, int8) for this computer; later runs load it ready-made
            photosearch: error: \(text) is not a JPEG, PNG, WebP or HEIF image

            """)
    }

    @Test("no inputs is a usage error")
    func noInputs() throws {
        let result = try CommandRunner.run(["embed", "--model", CommandRunner.fixture("models/oc-vit-gelu-p16")])
        #expect(result.status == 64)
        #expect(result.standardError.contains("give at least one --image or --text."))
    }
}
