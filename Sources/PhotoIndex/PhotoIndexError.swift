import Foundation

/// Everything that can go wrong with an index, each with what the user can do.
public enum PhotoIndexError: LocalizedError, Equatable, Sendable {
    case databaseUnavailable(path: String, reason: String)
    case notAnIndex(path: String)
    case indexNotFound(path: String)
    case writerBusy(path: String, holder: String?)
    case rootNotFound(path: String)
    case modelMismatch(index: String, given: String)
    case embeddingSizeMismatch(index: Int, given: Int)
    case diskFull(path: String)
    case database(path: String, reason: String)
    case emptyIndex(path: String)
    case photoNotIndexed(path: String)

    public var errorDescription: String? {
        switch self {
        case let .databaseUnavailable(path, reason):
            return "cannot open the index \(path): \(reason)"
        case let .notAnIndex(path):
            return "\(path) is not a photosearch index"
        case let .indexNotFound(path):
            return "no index at \(path); create one with: photosearch index PATH..."
        case let .writerBusy(path, holder):
            let who = holder.map { " (\($0))" } ?? ""
            return "another photosearch index is already writing to \(path)\(who); try again when it has finished"
        case let .rootNotFound(path):
            return "\(path) does not exist (nothing was changed in the index)"
        case let .modelMismatch(index, given):
            return "this index was built with model \(index), not \(given); use --model with that model, or re-index with it: photosearch index --replace-model --model DIR PATH..."
        case let .embeddingSizeMismatch(index, given):
            return "this index holds \(index)-dimensional embeddings but the model makes \(given)-dimensional ones; use the index's model, or re-index with this one: photosearch index --replace-model --model DIR PATH..."
        case let .diskFull(path):
            return "the disk holding \(path) is full; the index is unchanged since the last completed batch"
        case let .database(path, reason):
            return "index \(path): \(reason)"
        case let .emptyIndex(path):
            return "the index \(path) holds no photos yet; add some with: photosearch index PATH..."
        case let .photoNotIndexed(path):
            return "\(path) is not in the index"
        }
    }
}
