import CLIP
import FileAccess
import Foundation
import Imaging

/// Everything that can go wrong with an index, a search or an indexing run,
/// each case with what the user can do.
public enum PhotoIndexError: LocalizedError, Equatable, Sendable {
    // The index file.
    case databaseUnavailable(path: String, reason: String)
    case notAnIndex(path: String)
    case indexNotFound(path: String)
    case emptyIndex(path: String)
    case writerBusy(path: String, holder: String?)
    case diskFull(path: String)
    case database(path: String, reason: String)

    // The model.
    /// The job needs a model and none was given or installed.
    case noModel
    /// The model folder cannot be loaded.
    case model(CLIPError)
    /// The model's weights file cannot be read to identify it.
    case cannotReadModel(path: String, reason: String)
    case modelMismatch(index: String, given: String)
    /// `indexModel`: the name of the model the index was built with.
    case embeddingSizeMismatch(index: Int, given: Int, indexModel: String)
    case precisionMismatch(index: Precision, given: Precision)

    // Indexing.
    case rootNotFound(path: String)
    /// A folder given to index holds no photos now, yet the index has
    /// `photos` from it: a drive that is not mounted looks like that.
    case rootEmptied(path: String, photos: Int)
    /// The built-in place data cannot be read.
    case places(reason: String)

    /// A number or option outside what photosearch accepts (from a command
    /// line or a web request alike).
    case invalidArgument(name: String, reason: String)

    // Searching.
    case emptyQuery
    case malformedQuery(QueryProblem)
    case noSuchImage(path: String)
    /// An example photo in a query cannot be decoded.
    case unreadableImage(ImagingError)
    case invalidDate(String)
    /// No photo in the index was taken in a place of this name.
    case unknownPlace(String)
    /// No indexed photo lies under this folder.
    case noPhotosInFolder(path: String)
    case queryCancelsOut
    case photoNotIndexed(path: String)
    /// No indexed photo has this id.
    case noSuchPhoto(id: Int64)
    /// The photo was indexed, but its file is gone (or unreadable) since.
    case photoGone(path: String)
    /// The photo's file is no longer what was indexed (edited, replaced, a link).
    case photoChanged(path: String)

    /// What is wrong with a query's syntax.
    public enum QueryProblem: Equatable, Sendable {
        case unterminatedQuote
        case missingTerm(after: String)
        /// "beach + in:Lisbon": a filter is not a term, to add or take away.
        case filterAfterOperator(String, filter: String)
        case missingOperator(before: String)
        case invalidWeight(String)
        case tooLong(bytes: Int)
    }

    public var errorDescription: String? {
        // Paths for people: bytes that are not UTF-8 as \xNN, as everywhere.
        func shown(_ path: String) -> String { FilePaths.displayed(path) }
        switch self {
        case let .databaseUnavailable(path, reason):
            return "cannot open the index \(shown(path)): \(reason)"
        case let .notAnIndex(path):
            return "\(shown(path)) is not a photosearch index"
        case let .indexNotFound(path):
            return "no index at \(shown(path)); create one with: photosearch index PATH..."
        case let .emptyIndex(path):
            return "the index \(shown(path)) holds no photos yet; add some with: photosearch index PATH..."
        case let .writerBusy(path, holder):
            let who = holder.map { " (\($0))" } ?? ""
            return "another photosearch index is already writing to \(shown(path))\(who); try again when it has finished"
        case let .diskFull(path):
            return "the disk holding \(shown(path)) is full; the index is unchanged since the last completed batch"
        case let .database(path, reason):
            return "index \(shown(path)): \(reason)"
        case .noModel:
            return "no model installed"
        case let .model(error):
            return error.localizedDescription
        case let .cannotReadModel(path, reason):
            return "cannot read the model's weights \(shown(path)): \(reason)"
        case let .modelMismatch(index, given):
            return "this index was built with model \(index), not \(given); use --model with that model, or re-index with it: photosearch index --replace-model --model DIR PATH..."
        case let .embeddingSizeMismatch(index, given, indexModel):
            return "this index holds \(index)-dimensional embeddings from model \(indexModel), but the model given makes \(given)-dimensional ones; use --model with \(indexModel), or re-index with this one: photosearch index --replace-model --model DIR PATH..."
        case let .precisionMismatch(index, given):
            return "this index holds embeddings computed in \(index.rawValue), not \(given.rawValue); index with --precision \(index.rawValue), or convert it: photosearch index --replace-model --precision \(given.rawValue) PATH..."
        case let .rootNotFound(path):
            return "\(shown(path)) does not exist (nothing was changed in the index)"
        case let .rootEmptied(path, photos):
            return "\(shown(path)) holds no photos now, yet the index has \(photos) from it: is a drive not mounted? Nothing was changed in the index; if they were deleted, index again with --allow-empty to forget them"
        case let .places(reason):
            return "photos' places cannot be derived: \(reason)"
        case let .invalidArgument(name, reason):
            return "invalid \(name): \(reason)"
        case .emptyQuery:
            return "the query is empty"
        case let .malformedQuery(problem):
            switch problem {
            case .unterminatedQuote: return "malformed query: a quote is not closed"
            case let .missingTerm(after): return "malformed query: nothing follows \"\(after)\""
            case let .filterAfterOperator(sign, filter):
                return "malformed query: \"\(sign)\" is followed by the filter \(filter), but filters are not terms to add or take away: "
                    + "write it apart, without \"\(sign)\""
            case let .missingOperator(before): return "malformed query: expected + or - before \(before)"
            case let .invalidWeight(text):
                return "malformed query: weight \"\(text.prefix(40))\" must be a number from \(SearchQuery.minimumWeight) to \(Int(SearchQuery.maximumWeight))"
            case let .tooLong(bytes):
                return "the query is \(bytes) bytes long, more than \(SearchQuery.maximumBytes)"
            }
        case let .noSuchImage(path):
            return "no such image: \(shown(path))"
        case let .unreadableImage(error):
            return error.localizedDescription
        case let .invalidDate(text):
            return "invalid date \"\(text)\"; use YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]"
        case let .noPhotosInFolder(path):
            return "no indexed photo is under \(shown(path)) (photosearch status shows what the index holds)"
        case let .unknownPlace(name):
            return "no photo in the index was taken in a place named \"\(name.prefix(100))\" (photosearch places lists where they were)"
        case .queryCancelsOut:
            return "the query's terms cancel each other out"
        case let .photoNotIndexed(path):
            return "\(shown(path)) is not in the index"
        case let .noSuchPhoto(id):
            return "no indexed photo has id \(id)"
        case let .photoGone(path):
            return "\(shown(path)) was indexed but is no longer on disk"
        case let .photoChanged(path):
            return "\(shown(path)) has changed since it was indexed; index its folder again"
        }
    }

    /// True for errors in what the user typed (a query or a date), as opposed
    /// to the state of files.
    public var isUsageError: Bool {
        switch self {
        case .emptyQuery, .malformedQuery, .queryCancelsOut, .invalidDate, .invalidArgument, .unknownPlace, .noPhotosInFolder: return true
        default: return false
        }
    }
}
