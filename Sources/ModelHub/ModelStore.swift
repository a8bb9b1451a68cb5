import CLIP
import FileAccess
import Foundation
import Imaging

/// Where installed models live: `$XDG_DATA_HOME/photosearch/models/NAME/`
/// (else `~/.local/share/photosearch/models/NAME/`), each with a
/// `photosearch-model.json` manifest, and a `default` file naming the model
/// used when none is given.
public struct ModelStore: Sendable {
    public let root: String

    public init(root: String) {
        self.root = root
    }

    /// The store under the user's data folder.
    public static func standard(environment: [String: String] = ProcessInfo.processInfo.environment) -> ModelStore {
        ModelStore(root: XDGDirectories(environment: environment).data + "/models")
    }

    /// What the store knows about an installed model.
    public struct Manifest: Codable, Sendable, Equatable {
        public var name: String
        /// "hub" or "import".
        public var source: String
        public var repository: String?
        public var revision: String?
        /// The commit the hub served (its X-Repo-Commit header).
        public var commit: String?
        /// File → SHA-256 checked at download, when the hub gave one.
        public var files: [String: String]
        public var installedAt: String

        enum CodingKeys: String, CodingKey {
            case name, source, repository, revision, commit, files
            case installedAt = "installed_at"
        }
    }

    public struct InstalledModel: Sendable, Equatable {
        public var name: String
        public var path: String
        public var manifest: Manifest?
        public var bytes: Int64
        public var isDefault: Bool
    }

    static let manifestName = "photosearch-model.json"

    public func path(of name: String) -> String { root + "/" + name }

    var defaultFile: String { root + "/default" }

    /// A name the store can hold a model under: not "default", the file
    /// that names the default model beside them.
    public static func validate(name: String) throws(ModelHubError) {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard !name.isEmpty, !name.hasPrefix("."), name.count <= 100, name.allSatisfy(allowed.contains) else {
            throw .invalidName(name)
        }
        guard name != "default" else { throw .reservedName(name) }
    }

    /// Whether a model is installed under `name` (a folder of the store).
    public func isInstalled(_ name: String) -> Bool {
        var isDirectory: ObjCBool = false
        return (try? Self.validate(name: name)) != nil && FileManager.default.fileExists(atPath: path(of: name), isDirectory: &isDirectory)
            && isDirectory.boolValue
    }

    /// The installed models' names, sorted.
    public func installedNames() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return names.sorted().filter { name in
            var isDirectory: ObjCBool = false
            return !name.hasPrefix(".") && name != "default"
                && FileManager.default.fileExists(atPath: path(of: name), isDirectory: &isDirectory) && isDirectory.boolValue
        }
    }

    /// Whether a catalogue model is installed.
    public enum CatalogueState: Sendable, Equatable {
        /// Downloaded from the entry's repository under its name.
        case installed
        /// Another model (imported, or from elsewhere) has the entry's name.
        case nameTaken
        case available
    }

    /// A catalogue entry's state among `installed` (from `installed()`): a
    /// model imported under the entry's name is not the entry.
    public func state(of entry: CatalogueEntry, among installed: [InstalledModel]) -> CatalogueState {
        guard let model = installed.first(where: { $0.name == entry.name }) else { return .available }
        return model.manifest?.source == "hub" && model.manifest?.repository == entry.repository ? .installed : .nameTaken
    }

    /// The installed models, by name.
    public func installed() -> [InstalledModel] {
        let defaultName = self.defaultName
        return installedNames().map { name -> InstalledModel in
            let folder = path(of: name)
            let manifest = (try? RegularFile.contents(of: folder + "/" + Self.manifestName, limit: 1 << 20))
                .flatMap { try? JSONDecoder().decode(Manifest.self, from: Data($0)) }
            return InstalledModel(name: name, path: folder, manifest: manifest, bytes: Self.size(of: folder),
                                  isDefault: name == defaultName)
        }
    }

    /// The model used when none is named: the one `setDefault` chose, else
    /// (that one removed by hand) the first installed by name. `list` marks
    /// this one and `resolve(nil)` uses it, so the two always agree.
    public var defaultName: String? {
        chosenDefault ?? installedNames().first
    }

    /// The name the `default` file holds, when that model is installed.
    private var chosenDefault: String? {
        guard let bytes = try? RegularFile.contents(of: defaultFile, limit: 4096), let text = String(validating: bytes, as: UTF8.self) else {
            return nil
        }
        let name = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return isInstalled(name) ? name : nil
    }

    public func setDefault(_ name: String) throws(ModelHubError) {
        try Self.validate(name: name)
        guard isInstalled(name) else { throw .notInstalled(name: name) }
        try write(Data((name + "\n").utf8), to: defaultFile)
    }

    /// Deletes a model. Removing the default makes the first remaining model
    /// the default; returns the new default's name when that happened.
    @discardableResult
    public func remove(_ name: String) throws(ModelHubError) -> String? {
        try Self.validate(name: name)
        let folder = path(of: name)
        guard isInstalled(name) else { throw .notInstalled(name: name) }
        let wasDefault = defaultName == name
        // Rename first so a half-deleted folder never looks installed.
        let doomed = root + "/.\(name).removing-\(getpid())"
        do {
            try FileManager.default.moveItem(atPath: folder, toPath: doomed)
            try FileManager.default.removeItem(atPath: doomed)
        } catch {
            throw .fileSystem(path: folder, reason: error.localizedDescription)
        }
        guard wasDefault else { return nil }
        guard let next = installedNames().first else {
            try? FileManager.default.removeItem(atPath: defaultFile)
            return nil
        }
        try setDefault(next)
        return next
    }

    /// The model directory to use: `requested` (a folder path or an
    /// installed model's name), else the default model.
    public func resolve(_ requested: String?) throws(ModelHubError) -> String {
        if let requested, !requested.isEmpty {
            // A path, or a bare name that is no installed model's: a folder.
            // (An installed model's name is that model, whatever folder the
            // current one holds of that name: ./NAME is the folder.)
            var isDirectory: ObjCBool = false
            if requested.contains("/")
                || !isInstalled(requested) && FileManager.default.fileExists(atPath: requested, isDirectory: &isDirectory) && isDirectory.boolValue {
                return requested
            }
            guard isInstalled(requested) else {
                if ModelCatalogue.entry(named: requested) != nil {
                    throw .notInstalled(name: requested)
                }
                throw .noSuchModel(name: requested, nearest: ModelCatalogue.suggestion(for: requested, installed: installedNames()))
            }
            return path(of: requested)
        }
        guard let defaultName else { throw .noModelInstalled }
        return path(of: defaultName)
    }

    /// Copies the model folder at `source` into the store under `name` (its
    /// folder name by default), after checking that it loads and embeds.
    @discardableResult
    public func importModel(from source: String, name: String? = nil) throws(ModelHubError) -> InstalledModel {
        let name = name ?? FilePaths.lastComponent(FilePaths.absolute(source))
        try Self.validate(name: name)
        guard !FileManager.default.fileExists(atPath: path(of: name)) else { throw .alreadyInstalled(name: name) }
        let directory: ModelDirectory
        do {
            directory = try ModelDirectory(path: source)
        } catch {
            throw .invalidModel(path: source, reason: error.localizedDescription)
        }
        try ModelValidator.validate(directory: source)
        try checkRoot()
        let staging = root + "/.\(name).importing-\(getpid())"
        if let problem = FilePaths.createFolders(staging) { throw .fileSystem(path: staging, reason: problem) }
        do {
            for file in directory.modelFiles {
                try FileManager.default.copyItem(atPath: file, toPath: staging + "/" + FilePaths.lastComponent(file))
            }
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw .fileSystem(path: staging, reason: error.localizedDescription)
        }
        let manifest = Manifest(name: name, source: "import", repository: nil, revision: nil, commit: nil,
                                files: [:], installedAt: Self.timestamp())
        return try commit(staging: staging, name: name, manifest: manifest)
    }

    /// Refuses a store that is no folder: a file or a FIFO in its place
    /// (then Foundation said only "error 512").
    func checkRoot() throws(ModelHubError) {
        guard let status = FilePaths.status(root), (status.st_mode & S_IFMT) != S_IFDIR else { return }
        throw .fileSystem(path: root, reason: "the model store must be a folder, and this is not one: move it away")
    }

    /// Writes the manifest into `staging` and renames it to the model's
    /// folder; the first model installed becomes the default.
    func commit(staging: String, name: String, manifest: Manifest) throws(ModelHubError) -> InstalledModel {
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(manifest).write(to: URL(fileURLWithPath: staging + "/" + Self.manifestName))
            guard rename(staging, path(of: name)) == 0 else {
                throw ModelHubError.fileSystem(path: path(of: name), reason: String(cString: strerror(errno)))
            }
        } catch let error as ModelHubError {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw .fileSystem(path: staging, reason: error.localizedDescription)
        }
        if chosenDefault == nil { try setDefault(name) }
        return installed().first { $0.name == name }!
    }

    private func write(_ data: Data, to path: String) throws(ModelHubError) {
        if let problem = FilePaths.createFolders(root) { throw .fileSystem(path: path, reason: problem) }
        do {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw .fileSystem(path: path, reason: error.localizedDescription)
        }
    }

    static func size(of folder: String) -> Int64 {
        var total: Int64 = 0
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
            if let size = (try? FileManager.default.attributesOfItem(atPath: folder + "/" + name))?[.size] as? NSNumber {
                total += size.int64Value
            }
        }
        return total
    }

    static func timestamp() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date())
    }
}
