import Foundation
import Synchronization
import Testing
import TestSupport
import CLIP
@testable import ModelHub

@Suite("SHA-256")
struct SHA256Tests {
    func hex(_ bytes: [UInt8]) throws -> String {
        let hasher = try #require(SHA256())
        hasher.update(bytes)
        return hasher.finalize()
    }

    @Test("FIPS 180-4 test vectors")
    func vectors() throws {
        #expect(try hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(try hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(try hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(try hex(Array(repeating: UInt8(ascii: "a"), count: 1_000_000))
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("fed in pieces of any size, the digest is the same")
    func incremental() throws {
        let bytes = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let hasher = try #require(SHA256())
        var offset = 0
        for size in [1, 63, 64, 65, 1000, 3] + Array(repeating: 500, count: 20) where offset < bytes.count {
            hasher.update(Array(bytes[offset..<min(offset + size, bytes.count)]))
            offset += size
        }
        if offset < bytes.count { hasher.update(Array(bytes[offset...])) }
        #expect(try hasher.finalize() == hex(bytes))
        // The hasher starts over after a digest.
        hasher.update(Array("abc".utf8))
        #expect(hasher.finalize() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}

@Suite("Installing models from a hub on loopback", .serialized)
struct ModelInstallTests {
    /// The transformers fixture served as openai/clip-vit-base-patch32.
    func hub() throws -> FakeHub {
        try FakeHub(repository: "openai/clip-vit-base-patch32", folder: FixtureFiles.path("models/hf-vit-quickgelu-p8"))
    }

    func installer(_ store: ModelStore, hub: String, attempts: Int = 3, fileLimit: Int64? = nil) -> ModelInstaller {
        ModelInstaller(store: store, downloader: ModelDownloader(hub: URL(string: hub)!, attempts: attempts, fileLimit: fileLimit))
    }

    func storeFolder() throws -> (TemporaryDirectory, ModelStore) {
        let directory = try TemporaryDirectory()
        return (directory, ModelStore(root: directory.path + "/models"))
    }

    func leftovers(_ store: ModelStore) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: store.root)) ?? []
    }

    @Test("install: files checked, model validated, installed as the default")
    func success() throws {
        let hub = try hub()
        defer { hub.server.stop() }
        let (folder, store) = try storeFolder()
        let reports = Mutex(0)
        let model = try installer(store, hub: hub.url).install("openai-vit-b-32") { _ in reports.withLock { $0 += 1 } }
        #expect(reports.withLock { $0 } > 0)
        #expect(model.isDefault)
        #expect(try store.resolve(nil) == store.path(of: "openai-vit-b-32"))
        #expect(model.manifest?.repository == "openai/clip-vit-base-patch32")
        #expect(model.manifest?.commit == FakeHub.commit)
        #expect(model.manifest?.files == ["model.safetensors": hub.sha256("model.safetensors")])
        #expect(leftovers(store).sorted() == ["default", "openai-vit-b-32"])
        // It is a working model, byte for byte the served one.
        let installed = try CLIPModel(directory: model.path)
        #expect(installed.embeddingSize == 24)
        #expect(FileManager.default.contentsEqual(atPath: model.path + "/model.safetensors",
                                                  andPath: FixtureFiles.path("models/hf-vit-quickgelu-p8/model.safetensors")))
        #expect(throws: ModelHubError.alreadyInstalled(name: "openai-vit-b-32")) {
            try installer(store, hub: hub.url).install("openai-vit-b-32") { _ in }
        }
        _ = folder
    }

    @Test("a folder imported under a catalogue name is not mistaken for that model's download")
    func importedUnderCatalogueName() throws {
        let hub = try hub()
        defer { hub.server.stop() }
        let (folder, store) = try storeFolder()
        try store.importModel(from: FixtureFiles.path("models/oc-vit-gelu-p16"), name: "openai-vit-b-32")
        #expect(throws: ModelHubError.nameTaken(name: "openai-vit-b-32")) {
            try installer(store, hub: hub.url).install("openai-vit-b-32") { _ in }
        }
        #expect(ModelHubError.nameTaken(name: "openai-vit-b-32").localizedDescription
            == "a model named openai-vit-b-32 is already installed from a folder (models import), not downloaded; remove it first with: photosearch models remove openai-vit-b-32")
        _ = folder
    }

    @Test("a refused connection leaves no empty staging folder")
    func refusedConnection() throws {
        let (folder, store) = try storeFolder()
        do {
            try installer(store, hub: "http://127.0.0.1:9").install("openai-vit-b-32") { _ in }
            Issue.record("installed from a closed port")
        } catch {
            guard case let .cannotReach(url, _) = error else { Issue.record("\(error)"); return }
            #expect(url == "http://127.0.0.1:9/openai/clip-vit-base-patch32/resolve/main/config.json")
        }
        #expect(leftovers(store).isEmpty)
        _ = folder
    }

    @Test("a checksum mismatch is refused: nothing installed, no temporary files left")
    func checksumMismatch() throws {
        let hub = try hub()
        defer { hub.server.stop() }
        hub.announcedSHA256["model.safetensors"] = String(repeating: "0", count: 64)
        let (folder, store) = try storeFolder()
        #expect(throws: ModelHubError.checksumMismatch(file: "model.safetensors", expected: String(repeating: "0", count: 64),
                                                         actual: hub.sha256("model.safetensors"))) {
            try installer(store, hub: hub.url).install("openai-vit-b-32") { _ in }
        }
        #expect(leftovers(store).isEmpty)
        #expect(throws: ModelHubError.noModelInstalled) { try store.resolve(nil) }
        _ = folder
    }

    @Test("only the hub vouches for a file: a redirect to another server that sends other bytes with their own checksum is refused")
    func redirectCannotVouch() throws {
        // The same model with other weights, of the same size (signs flipped), on another server.
        let folder = try TemporaryDirectory()
        let original = FixtureFiles.path("models/hf-vit-quickgelu-p8")
        for name in try FileManager.default.contentsOfDirectory(atPath: original) {
            try FileManager.default.copyItem(atPath: original + "/" + name, toPath: folder.path + "/" + name)
        }
        var weights = Array(try Data(contentsOf: URL(fileURLWithPath: folder.path + "/model.safetensors")))
        for offset in stride(from: weights.count - 1, to: weights.count - 4000, by: -4) { weights[offset] ^= 0x80 }
        try Data(weights).write(to: URL(fileURLWithPath: folder.path + "/model.safetensors"))
        let other = try FakeHub(repository: "openai/clip-vit-base-patch32", folder: folder.path)
        defer { other.server.stop() }
        other.cdnVouches = true
        let hub = try hub()
        defer { hub.server.stop() }
        hub.cdn = other.url
        let (storeRoot, store) = try storeFolder()
        // (Before, the last response's X-Linked-Etag won: the other weights were installed, "checked".)
        #expect(throws: ModelHubError.checksumMismatch(file: "model.safetensors", expected: hub.sha256("model.safetensors"),
                                                         actual: other.sha256("model.safetensors"))) {
            try installer(store, hub: hub.url).install("openai-vit-b-32") { _ in }
        }
        #expect(leftovers(store).isEmpty)
        _ = storeRoot
    }

    @Test("a redirect stays with the hub when it leads to the hub's origin: a path, or the same scheme, host and port (the default port written or not)")
    func origins() {
        let hub = ModelDownloader.origin(of: URL(string: "https://huggingface.co")!)
        for same in ["/api/resolve/x", "https://huggingface.co/x", "https://HuggingFace.co:443/x", "HTTPS://huggingface.co/x"] {
            #expect(ModelDownloader.sameOrigin(same, as: hub), "\(same)")
        }
        for other in ["//cdn.example/x", "https://cdn-lfs.huggingface.co/x", "http://huggingface.co/x", "https://huggingface.co:8443/x",
                      "https://huggingface.co.evil/x", "x/y", "file:///etc/passwd"] {
            #expect(!ModelDownloader.sameOrigin(other, as: hub), "\(other)")
        }
        #expect(ModelDownloader.sameOrigin("http://127.0.0.1:8080/cdn/x", as: ModelDownloader.origin(of: URL(string: "http://127.0.0.1:8080")!)))
    }

    @Test("a file the hub gives no size for stops at the most a file of the model may be, and is deleted")
    func unannouncedSizeLimited() throws {
        let hub = try hub()
        defer { hub.server.stop() }
        hub.announcesSize = false
        hub.extraBytes = 1 << 20
        let (folder, store) = try storeFolder()
        let size = Int64(try #require(try FileManager.default.attributesOfItem(
            atPath: FixtureFiles.path("models/hf-vit-quickgelu-p8/model.safetensors"))[.size] as? NSNumber).intValue)
        do {
            try installer(store, hub: hub.url, fileLimit: size + 1000).install("openai-vit-b-32") { _ in }
            Issue.record("installed a file past its limit")
        } catch {
            #expect(error.localizedDescription == "model.safetensors: the server sent more than \(size + 1000) bytes, more than the whole model; "
                    + "it was deleted and nothing was installed")
        }
        #expect(leftovers(store).isEmpty)
        // The catalogue's figure, with room: what a model's largest file can be.
        let entry = try #require(ModelCatalogue.entry(named: "openai-vit-b-32"))
        #expect(ModelDownloader.byteLimit(entry) > entry.downloadBytes && ModelDownloader.byteLimit(entry) < 2 * entry.downloadBytes)
        _ = folder
    }

    @Test("one install of a model at a time; a model larger than the free space is refused before downloading")
    func oneAtATimeAndSpace() throws {
        let hub = try hub()
        defer { hub.server.stop() }
        let (folder, store) = try storeFolder()
        let installer = installer(store, hub: hub.url)
        let staging = installer.stagingPath(for: "openai-vit-b-32")
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        let held = open(store.root + "/.openai-vit-b-32.lock", O_RDWR | O_CREAT, 0o644)
        #expect(flock(held, LOCK_EX) == 0)
        #expect(throws: ModelHubError.fileSystem(path: staging, reason: "another photosearch is installing openai-vit-b-32 right now")) {
            try installer.install("openai-vit-b-32") { _ in }
        }
        #expect(hub.server.requests.isEmpty)
        close(held)
        unlink(store.root + "/.openai-vit-b-32.lock")
        var huge = try #require(ModelCatalogue.entry(named: "openai-vit-b-32"))
        huge.downloadBytes = 1 << 60
        do {
            try ModelInstaller.checkSpace(for: huge, staging: staging)
            Issue.record("an exabyte fits")
        } catch {
            #expect(error.localizedDescription.contains("openai-vit-b-32 needs 1152921504606.8 MB more, and "), "\(error.localizedDescription)")
        }
        _ = try installer.install("openai-vit-b-32") { _ in }
        _ = folder
    }

    @Test("a store that is a file or a FIFO is said so, not \"error 512\"")
    func storeNotAFolder() throws {
        let hub = try hub()
        defer { hub.server.stop() }
        let (folder, _) = try storeFolder()
        let root = folder.path + "/models"
        let expected = ModelHubError.fileSystem(path: root, reason: "the model store must be a folder, and this is not one: move it away")
        for make in [{ FileManager.default.createFile(atPath: root, contents: Data("x".utf8)) }, { mkfifo(root, 0o644) == 0 }] {
            try? FileManager.default.removeItem(atPath: root)
            #expect(make())
            let store = ModelStore(root: root)
            #expect(throws: expected) { try store.importModel(from: FixtureFiles.path("models/oc-vit-gelu-p16")) }
            #expect(throws: expected) { try installer(store, hub: hub.url).install("openai-vit-b-32") { _ in } }
        }
    }

    @Test("a transfer cut in the middle is resumed with a Range request")
    func resumedWithinRun() throws {
        let hub = try hub()
        defer { hub.server.stop() }
        hub.cutFirstTransferOf = ["model.safetensors"]
        let (folder, store) = try storeFolder()
        let model = try installer(store, hub: hub.url).install("openai-vit-b-32") { _ in }
        let ranges = hub.server.requests.filter { $0.path.hasPrefix("/cdn/") }.compactMap { $0.headers["range"] }
        let size = try #require(try FileManager.default.attributesOfItem(atPath: model.path + "/model.safetensors")[.size] as? NSNumber)
        #expect(ranges == ["bytes=\(size.intValue / 2)-"])
        #expect(model.manifest?.files["model.safetensors"] == hub.sha256("model.safetensors"))
        _ = folder
    }

    @Test("an install cut short resumes on the next attempt")
    func resumedNextRun() throws {
        let hub = try hub()
        defer { hub.server.stop() }
        hub.cutFirstTransferOf = ["model.safetensors"]
        let (folder, store) = try storeFolder()
        let first = installer(store, hub: hub.url, attempts: 1)
        do {
            try first.install("openai-vit-b-32") { _ in }
            Issue.record("the cut transfer succeeded")
        } catch {
            guard case .cannotReach = error else { Issue.record("\(error)"); return }
        }
        // Not installed, but the partial file waits in the staging folder.
        #expect(!FileManager.default.fileExists(atPath: store.path(of: "openai-vit-b-32")))
        #expect(FileManager.default.fileExists(atPath: first.stagingPath(for: "openai-vit-b-32") + "/model.safetensors.incomplete"))
        let model = try installer(store, hub: hub.url).install("openai-vit-b-32") { _ in }
        #expect(hub.server.requests.contains { $0.headers["range"] != nil })
        #expect(FileManager.default.contentsEqual(atPath: model.path + "/model.safetensors",
                                                  andPath: FixtureFiles.path("models/hf-vit-quickgelu-p8/model.safetensors")))
        #expect(leftovers(store).sorted() == ["default", "openai-vit-b-32"])
        _ = folder
    }

    @Test("a repository without model.safetensors installs its pytorch_model.bin, checked and validated")
    func pytorchFallback() throws {
        let hub = try FakeHub(repository: "OFA-Sys/chinese-clip-vit-base-patch16", folder: FixtureFiles.path("models/cn-clip-vit-p8-bin"))
        defer { hub.server.stop() }
        let (folder, store) = try storeFolder()
        let model = try installer(store, hub: hub.url).install("chinese-clip-vit-b-16") { _ in }
        #expect(model.manifest?.files == ["pytorch_model.bin": hub.sha256("pytorch_model.bin")])
        let files = try FileManager.default.contentsOfDirectory(atPath: model.path).filter { $0 != "photosearch-model.json" }.sorted()
        #expect(files == ["config.json", "preprocessor_config.json", "pytorch_model.bin", "tokenizer_config.json", "vocab.txt"])
        // It works, Chinese included.
        let installed = try CLIPModel(directory: model.path)
        #expect(installed.tokenizer?.tokenize("海边的日落") == [101, 3862, 6804, 4638, 3189, 5862, 102])
        _ = folder
    }

    @Test("a SigLIP 2 repository installs its tokenizer.json with it and answers Chinese with probabilities")
    func siglip2() throws {
        let hub = try FakeHub(repository: "google/siglip2-base-patch16-256", folder: FixtureFiles.path("models/siglip2-p8"))
        defer { hub.server.stop() }
        let (folder, store) = try storeFolder()
        let model = try installer(store, hub: hub.url).install(ModelCatalogue.bestResultsName) { _ in }
        let files = try FileManager.default.contentsOfDirectory(atPath: model.path).filter { $0 != "photosearch-model.json" }.sorted()
        #expect(files == ["config.json", "model.safetensors", "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json"])
        let installed = try CLIPModel(directory: model.path)
        #expect(installed.calibration != nil)
        #expect(installed.tokenizer?.tokenize("海边的日落").prefix(3) == [688, 1, 0])
        _ = folder
    }

    @Test("a file missing on the hub (404)")
    func notFound() throws {
        let hub = try hub()
        defer { hub.server.stop() }
        hub.missing = ["merges.txt"]
        let (folder, store) = try storeFolder()
        #expect(throws: ModelHubError.notFound(url: hub.url + "/openai/clip-vit-base-patch32/resolve/main/merges.txt")) {
            try installer(store, hub: hub.url).install("openai-vit-b-32") { _ in }
        }
        #expect(leftovers(store).isEmpty)
        _ = folder
    }

    @Test("the hub is down")
    func serverDown() throws {
        let hub = try hub()
        let url = hub.url
        hub.server.stop()     // nothing listens on that port any more
        let (folder, store) = try storeFolder()
        do {
            try installer(store, hub: url).install("openai-vit-b-32") { _ in }
            Issue.record("installed from a stopped server")
        } catch {
            guard case let .cannotReach(failing, _) = error else { Issue.record("\(error)"); return }
            #expect(failing.hasPrefix(url))
            #expect(error.localizedDescription.contains("nothing was installed"))
        }
        #expect(!FileManager.default.fileExists(atPath: store.path(of: "openai-vit-b-32")))
        _ = folder
    }

    @Test("an unknown model name")
    func unknown() throws {
        let (folder, store) = try storeFolder()
        #expect(throws: ModelHubError.unknownModel(name: "vit-z-99")) {
            try installer(store, hub: "http://127.0.0.1:9").install("vit-z-99") { _ in }
        }
        // A typo gets the catalogue's nearest name.
        #expect(throws: ModelHubError.unknownModel(name: "openai-vit-b-23", nearest: "openai-vit-b-32")) {
            try installer(store, hub: "http://127.0.0.1:9").install("openai-vit-b-23") { _ in }
        }
        #expect(ModelHubError.unknownModel(name: "openai-vit-b-23", nearest: "openai-vit-b-32").localizedDescription
                == "no model called openai-vit-b-23 in the catalogue (did you mean openai-vit-b-32?); see: photosearch models list")
        _ = folder
    }
}

@Suite("Importing and choosing models")
struct ModelImportTests {
    func store() throws -> (TemporaryDirectory, ModelStore) {
        let directory = try TemporaryDirectory()
        return (directory, ModelStore(root: directory.path + "/models"))
    }

    @Test("import each layout; the first becomes the default; names resolve")
    func importBothLayouts() throws {
        let (folder, store) = try store()
        let first = try store.importModel(from: FixtureFiles.path("models/oc-vit-gelu-p16"))
        let second = try store.importModel(from: FixtureFiles.path("models/hf-vit-quickgelu-p8"), name: "tiny-hf")
        #expect(first.isDefault && !second.isDefault)
        #expect(first.manifest?.source == "import")
        #expect(try store.resolve("tiny-hf") == store.path(of: "tiny-hf"))
        #expect(try store.resolve(nil) == store.path(of: "oc-vit-gelu-p16"))
        #expect(try CLIPModel(directory: try store.resolve("tiny-hf")).embeddingSize == 24)
        try store.setDefault("tiny-hf")
        #expect(try store.resolve(nil) == store.path(of: "tiny-hf"))
        // Removing the default makes the remaining model the default, for
        // list and resolve alike.
        #expect(try store.remove("tiny-hf") == "oc-vit-gelu-p16")
        #expect(store.defaultName == "oc-vit-gelu-p16")
        #expect(store.installed().map(\.name) == ["oc-vit-gelu-p16"] && store.installed()[0].isDefault)
        #expect(try store.resolve(nil) == store.path(of: "oc-vit-gelu-p16"))
        #expect(throws: ModelHubError.notInstalled(name: "tiny-hf")) { try store.remove("tiny-hf") }
        #expect(try store.remove("oc-vit-gelu-p16") == nil)
        #expect(throws: ModelHubError.noModelInstalled) { try store.resolve(nil) }
        _ = folder
    }

    @Test("a folder missing a file is refused, naming the file", arguments: [
        ("oc-vit-gelu-p16", "open_clip_model.safetensors"),
        ("hf-vit-quickgelu-p8", "merges.txt"),
        ("hf-vit-quickgelu-p8", "model.safetensors"),
    ])
    func missingFile(model: String, file: String) throws {
        let (folder, store) = try store()
        let copy = folder.path + "/incomplete-model"
        try FileManager.default.copyItem(atPath: FixtureFiles.path("models/\(model)"), toPath: copy)
        try FileManager.default.removeItem(atPath: copy + "/" + file)
        do {
            try store.importModel(from: copy)
            Issue.record("imported without \(file)")
        } catch {
            #expect(error.localizedDescription == "\(copy) is not a usable model: \(copy)/\(file) is missing")
        }
        #expect(store.installed().isEmpty)
    }

    @Test("a folder whose weights do not load is refused")
    func brokenWeights() throws {
        let (folder, store) = try store()
        let copy = folder.path + "/broken"
        try FileManager.default.copyItem(atPath: FixtureFiles.path("models/oc-vit-gelu-p16"), toPath: copy)
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: copy + "/open_clip_model.safetensors"))
        do {
            try store.importModel(from: copy)
            Issue.record("imported broken weights")
        } catch {
            #expect(error.localizedDescription.contains("is truncated"))
        }
    }

    @Test("names are checked")
    func names() throws {
        let (folder, store) = try store()
        #expect(throws: ModelHubError.invalidName("../escape")) {
            try store.importModel(from: FixtureFiles.path("models/oc-vit-gelu-p16"), name: "../escape")
        }
        _ = folder
    }
}

@Suite("Default locations")
struct XDGDirectoriesTests {
    @Test("the index: --db, then $PHOTOSEARCH_DB, then XDG_DATA_HOME, then ~/.local/share")
    func indexPath() {
        #expect(XDGDirectories.indexPath(explicit: "/x.sqlite", environment: ["PHOTOSEARCH_DB": "/y.sqlite"]) == "/x.sqlite")
        #expect(XDGDirectories.indexPath(explicit: nil, environment: ["PHOTOSEARCH_DB": "/y.sqlite"]) == "/y.sqlite")
        #expect(XDGDirectories.indexPath(explicit: nil, environment: ["XDG_DATA_HOME": "/data", "HOME": "/home/a"]) == "/data/photosearch/index.sqlite")
        #expect(XDGDirectories.indexPath(explicit: nil, environment: ["HOME": "/home/a"]) == "/home/a/.local/share/photosearch/index.sqlite")
    }

    @Test("data, cache and state homes; a relative XDG value is ignored, as the specification says")
    func homes() {
        let given = XDGDirectories(environment: ["XDG_DATA_HOME": "/d", "XDG_CACHE_HOME": "/c", "XDG_STATE_HOME": "/s", "HOME": "/home/a"])
        #expect(given.data == "/d/photosearch" && given.cache == "/c/photosearch" && given.state == "/s/photosearch")
        let relative = XDGDirectories(environment: ["XDG_DATA_HOME": "d", "XDG_CACHE_HOME": "c", "XDG_STATE_HOME": "s", "HOME": "/home/a"])
        #expect(relative.data == "/home/a/.local/share/photosearch" && relative.cache == "/home/a/.cache/photosearch"
            && relative.state == "/home/a/.local/state/photosearch")
        #expect(ModelStore.standard(environment: ["XDG_DATA_HOME": "/d"]).root == "/d/photosearch/models")
    }
}
