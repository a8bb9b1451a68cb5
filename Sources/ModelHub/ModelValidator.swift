import CLIP

/// Proves a model folder usable: it loads (every tensor present and shaped as
/// its configuration says) and embeds one image and one text into finite
/// vectors of the configured size.
public enum ModelValidator {
    public static func validate(directory: String) throws(ModelHubError) {
        do throws(CLIPError) {
            try CLIPModel(directory: directory).probe()
        } catch {
            throw .invalidModel(path: directory, reason: error.localizedDescription)
        }
    }
}
