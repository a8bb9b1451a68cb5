import Foundation

/// Everything that can go wrong installing, importing or choosing a model.
public enum ModelHubError: LocalizedError, Equatable, Sendable {
    case noModelInstalled
    /// Not in the catalogue; `nearest`: the catalogue's name closest to it, if any is close.
    case unknownModel(name: String, nearest: String? = nil)
    /// Neither an installed model, a catalogue name nor a folder.
    case noSuchModel(name: String, nearest: String?)
    case notInstalled(name: String)
    case alreadyInstalled(name: String)
    /// A model of that name is installed, but not the catalogue's download.
    case nameTaken(name: String)
    case invalidName(String)
    case reservedName(String)
    case cannotReach(url: String, reason: String)
    case httpStatus(url: String, status: Int)
    case notFound(url: String)
    case checksumMismatch(file: String, expected: String, actual: String)
    case sizeMismatch(file: String, expected: Int64, actual: Int64)
    case invalidModel(path: String, reason: String)
    case fileSystem(path: String, reason: String)
    case invalidHub(String)

    public var errorDescription: String? {
        switch self {
        case .noModelInstalled:
            return "no model installed"
        case let .unknownModel(name, nearest):
            return "no model called \(name) in the catalogue\(nearest.map { " (did you mean \($0)?)" } ?? ""); see: photosearch models list"
        case let .noSuchModel(name, nearest):
            return "no model called \(name) is installed, and no folder has that name\(nearest.map { " (did you mean \($0)?)" } ?? ""); see: photosearch models list"
        case let .notInstalled(name):
            return "model \(name) is not installed; see: photosearch models list"
        case let .alreadyInstalled(name):
            return "model \(name) is already installed"
        case let .nameTaken(name):
            return "a model named \(name) is already installed from a folder (models import), not downloaded; remove it first with: photosearch models remove \(name)"
        case let .invalidName(name):
            return "\"\(name)\" cannot be a model name: use up to 100 letters, digits, '.', '-' and '_', not starting with '.'"
        case let .reservedName(name):
            return "\"\(name)\" cannot be a model name: the store keeps which model is the default under it"
        case let .cannotReach(url, reason):
            return "cannot download \(url): \(reason); nothing was installed (run the same command again to resume)"
        case let .httpStatus(url, status):
            return "cannot download \(url): the server answered HTTP \(status); nothing was installed"
        case let .notFound(url):
            return "cannot download \(url): not found (HTTP 404); nothing was installed"
        case let .checksumMismatch(file, expected, actual):
            return "\(file) failed its checksum (SHA-256 \(actual), the hub says \(expected)); it was deleted and nothing was installed"
        case let .sizeMismatch(file, expected, actual):
            return "\(file) is \(actual) bytes, the hub says \(expected); nothing was installed"
        case let .invalidModel(path, reason):
            return "\(path) is not a usable model: \(reason)"
        case let .fileSystem(path, reason):
            return "\(path): \(reason)"
        case let .invalidHub(value):
            return "PHOTOSEARCH_HUB_URL \"\(value.prefix(200))\" is not an http:// or https:// address; nothing was downloaded"
        }
    }
}
