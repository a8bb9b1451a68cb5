import CLIP
import Imaging

/// Proves a model folder usable: it loads (every tensor present and shaped as
/// its configuration says) and embeds one image and one text into finite
/// vectors of the configured size.
public enum ModelValidator {
    public static func validate(directory: String) throws(ModelHubError) {
        let model: CLIPModel
        do {
            model = try CLIPModel(directory: directory)
        } catch {
            throw .invalidModel(path: directory, reason: error.localizedDescription)
        }
        let size = 64
        var pixels = [UInt8](repeating: 0, count: size * size * 3)
        for y in 0..<size {
            for x in 0..<size {
                pixels[(y * size + x) * 3] = UInt8(x * 4)
                pixels[(y * size + x) * 3 + 1] = UInt8(y * 4)
                pixels[(y * size + x) * 3 + 2] = UInt8((x + y) * 2)
            }
        }
        let image = model.encode(images: [Bitmap(width: size, height: size, layout: .rgb, pixels: pixels)])[0]
        let text = model.encode(texts: ["a photo of a cat"])[0]
        for vector in [image, text] where vector.count != model.embeddingSize || !vector.allSatisfy(\.isFinite) {
            throw .invalidModel(path: directory, reason: "its embeddings are not finite vectors of \(model.embeddingSize) values")
        }
    }
}
