import CLIP
import FileAccess
import Foundation
#if canImport(Glibc)
import Glibc
#endif

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
        try store.checkRoot()
        if let problem = FilePaths.createFolders(staging) { throw .fileSystem(path: staging, reason: problem) }
        // One install of a model at a time: two would write the same partial
        // files, each truncating the other's. The lock is a file of its own
        // (the staging folder is renamed or deleted while locked), deleted
        // by its holder; so a lock is only ours if the name still leads to
        // the file locked.
        let lockPath = store.root + "/.\(name).lock"
        let lock = open(lockPath, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o644)
        guard lock >= 0 else { throw .fileSystem(path: lockPath, reason: String(cString: strerror(errno))) }
        var locked = stat(), named = stat()
        guard flock(lock, LOCK_EX | LOCK_NB) == 0, fstat(lock, &locked) == 0, stat(lockPath, &named) == 0,
              locked.st_ino == named.st_ino, locked.st_dev == named.st_dev else {
            close(lock)
            throw .fileSystem(path: staging, reason: "another photosearch is installing \(name) right now")
        }
        defer {
            unlink(lockPath)
            close(lock)
        }
        try Self.checkSpace(for: entry, staging: staging)
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

    /// Refuses a download that cannot fit: the model's size, less what an
    /// earlier attempt left in `staging`, against the space free there.
    static func checkSpace(for entry: CatalogueEntry, staging: String) throws(ModelHubError) {
        var status = statvfs()
        guard statvfs(staging, &status) == 0 else { return }
        let free = Int64(status.f_bavail) * Int64(status.f_frsize)
        let partial = ((try? FileManager.default.contentsOfDirectory(atPath: staging)) ?? [])
            .reduce(Int64(0)) { $0 + ModelDownloader.fileSize(staging + "/" + $1) }
        let needed = entry.downloadBytes - partial
        if needed > free {
            let megabytes = { (bytes: Int64) in String(format: "%.1f MB", Double(bytes) / 1e6) }
            throw .fileSystem(path: FilePaths.deletingLastComponent(staging), reason: """
                \(entry.name) needs \(megabytes(needed)) more, and \(megabytes(free)) are free there; nothing was installed
                """)
        }
    }
}
