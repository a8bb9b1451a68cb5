import CLIP
import Foundation

/// `photosearch models install NAME`: download into a hidden staging folder
/// next to the installed models, check every large file's SHA-256, prove the
/// model loads and embeds, then rename the folder into place, so that a failed
/// install never looks installed. An interrupted install resumes on the next
/// attempt from its partial files.
public struct ModelInstaller: Sendable {
    public let store: ModelStore
    public let downloader: ModelDownloader

    public init(store: ModelStore, downloader: ModelDownloader) {
        self.store = store
        self.downloader = downloader
    }

    public func stagingPath(for name: String) -> String { store.root + "/.\(name).incomplete" }

    @discardableResult
    public func install(_ name: String, progress: @escaping @Sendable (ModelDownloader.Progress) -> Void) throws(ModelHubError) -> ModelStore.InstalledModel {
        guard let entry = ModelCatalogue.entry(named: name) else {
            throw .unknownModel(name: name, nearest: ModelCatalogue.suggestion(for: name))
        }
        if let existing = store.installed().first(where: { $0.name == name }) {
            // The catalogue's download, or something else that took its name?
            let downloaded = existing.manifest?.source == "hub" && existing.manifest?.repository == entry.repository
            throw downloaded ? .alreadyInstalled(name: name) : .nameTaken(name: name)
        }
        let staging = stagingPath(for: name)
        do {
            try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        } catch {
            throw .fileSystem(path: staging, reason: error.localizedDescription)
        }
        let result: ModelDownloader.Result
        do {
            result = try downloader.download(entry, into: staging, progress: progress)
        } catch {
            // Keep partial files to resume a cut or refused connection; anything
            // else (a bad checksum, a missing file) starts over next time.
            let partial = (try? FileManager.default.contentsOfDirectory(atPath: staging)) ?? []
            if case .cannotReach = error, !partial.isEmpty {} else { try? FileManager.default.removeItem(atPath: staging) }
            throw error
        }
        do {
            try ModelValidator.validate(directory: staging)
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
        let manifest = ModelStore.Manifest(name: name, source: "hub", repository: entry.repository, revision: entry.revision,
                                           commit: result.commit, files: result.checksums, installedAt: ModelStore.timestamp())
        return try store.commit(staging: staging, name: name, manifest: manifest)
    }
}
