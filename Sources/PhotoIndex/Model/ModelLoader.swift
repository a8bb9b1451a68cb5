import CLIP
import Synchronization

/// The model an index is built or searched with, loaded on first use one
/// tower at a time (a text search needs only the text tower, indexing only
/// the image tower) and kept for later calls, from any thread.
final class ModelLoader: Sendable {
    /// The model folder.
    let directory: String
    /// Where towers are kept ready-made, if anywhere.
    let prepared: PreparedWeightsCache?

    private struct Loaded {
        var towers: [String: CLIPModel] = [:]
        var identity: ModelIdentity?
        var textChecked = false
    }

    private let loaded = Mutex(Loaded())

    init(directory: String, prepared: PreparedWeightsCache?) {
        self.directory = directory
        self.prepared = prepared
    }

    /// A model holding `tower` (`.image` or `.text`) in `precision`, loaded once.
    func model(with tower: CLIPModel.Towers, precision: Precision) throws(PhotoIndexError) -> CLIPModel {
        precondition(tower == .image || tower == .text, "one tower at a time")
        let key = "\(tower == .image ? "image" : "text")-\(precision.rawValue)"
        return try loaded.withLock { loaded throws(PhotoIndexError) -> CLIPModel in
            if let model = loaded.towers[key] { return model }
            let model: CLIPModel
            do throws(CLIPError) {
                model = try CLIPModel(directory: directory, towers: tower, precision: precision, prepared: prepared)
                // Damaged image weights would fail every photo of a run: refuse
                // them once, here. (A text query's own vector is checked instead:
                // a probe would double a search's encoding time.)
                if tower == .image { try model.probe() }
            } catch {
                throw .model(error)
            }
            loaded.towers[key] = model
            return model
        }
    }

    /// Checks, once, that the text tower and its tokenizer load and embed: an
    /// index is only as good as the searches its model can answer, so a
    /// broken text tower is refused when indexing starts, not at the first
    /// search. The tower is not kept.
    func checkTextTower(precision: Precision) throws(PhotoIndexError) {
        try loaded.withLock { loaded throws(PhotoIndexError) in
            guard !loaded.textChecked, loaded.towers["text-\(precision.rawValue)"] == nil else { return }
            do throws(CLIPError) {
                try CLIPModel(directory: directory, towers: .text, precision: precision, prepared: prepared).probe()
            } catch {
                throw .model(error)
            }
            loaded.textChecked = true
        }
    }

    /// The model's identity (name, embedding size, checksum of the weights);
    /// the checksum is reused from `known` records of the same unchanged file.
    /// Without `embeddingSize`, the configuration gives it: no tower need be
    /// loaded to tell whether this is an index's model.
    func identity(embeddingSize: Int? = nil, known: [ModelRecord]) throws(PhotoIndexError) -> ModelIdentity {
        try loaded.withLock { loaded throws(PhotoIndexError) -> ModelIdentity in
            if let identity = loaded.identity, identity.embeddingSize == embeddingSize ?? identity.embeddingSize { return identity }
            let folder: ModelDirectory
            let size: Int
            do throws(CLIPError) {
                folder = try ModelDirectory(path: directory)
                if let embeddingSize { size = embeddingSize } else { size = try folder.embeddingSize() }
            } catch {
                throw .model(error)
            }
            let identity = try ModelIdentity.of(directory: folder, embeddingSize: size, known: known)
            loaded.identity = identity
            return identity
        }
    }
}
