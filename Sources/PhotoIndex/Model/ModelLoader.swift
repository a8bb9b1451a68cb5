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
    /// Kept apart from `loaded`: a text is encoded outside any lock.
    private let recentTexts: Mutex<RecentTextEmbeddings>

    init(directory: String, prepared: PreparedWeightsCache?, rememberedTexts: Int = 256) {
        self.directory = directory
        self.prepared = prepared
        recentTexts = Mutex(RecentTextEmbeddings(capacity: rememberedTexts))
    }

    /// The embeddings of `texts` by `model` (this loader's text tower, in
    /// its precision): those made before are remembered
    /// (`RecentTextEmbeddings`), the others encoded together in one batch.
    func embeddings(of texts: [String], by model: CLIPModel) -> [[Float]] {
        guard let tokenizer = model.tokenizer else { preconditionFailure("the text tower was not loaded") }
        let keys = texts.map { RecentTextEmbeddings.Key(precision: model.precision, tokens: tokenizer.tokenize($0)) }
        var vectors = recentTexts.withLock { recent in keys.map { recent.vector(for: $0) } }
        let missing = vectors.indices.filter { vectors[$0] == nil }
        guard !missing.isEmpty else { return vectors.map { $0! } }
        let encoded = model.encode(tokens: missing.map { keys[$0].tokens })
        recentTexts.withLock { recent in
            for (index, vector) in zip(missing, encoded) {
                vectors[index] = vector
                recent.remember(vector, for: keys[index])
            }
        }
        return vectors.map { $0! }
    }

    /// How many texts were encoded, and how many embeddings are remembered.
    var textEncodings: (encoded: Int, remembered: Int) {
        recentTexts.withLock { ($0.encoded, $0.count) }
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
