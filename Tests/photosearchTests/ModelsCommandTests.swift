import Foundation
import Testing
import TestSupport

@Suite("photosearch models, and the first run", .serialized)
struct ModelsCommandTests {
    /// An empty data folder: no models, no index.
    final class Home {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("photosearch-home-\(UUID().uuidString)")
        var environment: [String: String] { ["XDG_DATA_HOME": root.path, "PHOTOSEARCH_MODEL": "", "PHOTOSEARCH_DB": ""] }
        init() throws { try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(at: root) }
    }

    func run(_ arguments: [String], _ home: Home, extra: [String: String] = [:]) throws -> CommandRunner.Result {
        try CommandRunner.run(arguments, environment: home.environment.merging(extra) { $1 })
    }

    @Test("with no model, index and search explain how to get one in two lines and exit 2")
    func firstRun() throws {
        let home = try Home()
        for command in [["index", CommandRunner.fixture("photos")], ["search", "a cat"]] {
            let result = try run(command, home)
            #expect(result.status == 2)
            let lines = result.standardError.split(separator: "\n")
            try #require(lines.count == 2, "\(result.standardError)")
            #expect(lines[0] == "photosearch: no model installed yet. Download one once (~600 MB): photosearch models install openai-vit-b-32")
            #expect(lines[1] == "photosearch: or use a model folder you already have: photosearch models import DIR (see: photosearch models list)")
        }
    }

    @Test("a mistyped model name: said, with the nearest installed or catalogue name; exit 2")
    func mistypedName() throws {
        let home = try Home()
        let imported = try run(["models", "import", CommandRunner.fixture("models/oc-vit-gelu-p16"), "--name", "family-photos"], home)
        #expect(imported.status == 0, "\(imported.standardError)")
        for (name, nearest) in [("openai-vit-b-23", " (did you mean openai-vit-b-32?)"), ("family-photo", " (did you mean family-photos?)"),
                                ("FAMILY-PHOTOS", " (did you mean family-photos?)"), ("siglip2-base-patch16-224", " (did you mean siglip2-b-16-224?)"),
                                ("siglip2-b-16-22", " (did you mean siglip2-b-16-224?)"), ("vit-l-14", " (did you mean laion-vit-l-14?)"),
                                ("zzz", "")] {
            let result = try run(["search", "a cat", "--model", name, "--db", "/nonexistent/index.sqlite"], home)
            #expect(result.status == 2, "\(name)")
            #expect(result.standardError == "photosearch: error: no model called \(name) is installed, and no folder has that name\(nearest); see: photosearch models list\n")
        }
        let install = try run(["models", "install", "openai-vit-b-23"], home)
        #expect(install.status != 0)
        #expect(install.standardError == "photosearch: error: no model called openai-vit-b-23 in the catalogue (did you mean openai-vit-b-32?); see: photosearch models list\n")
    }

    @Test("install from the hub, then index and search with the default model, offline")
    func installThenUse() throws {
        let home = try Home()
        let hub = try FakeHub(repository: "openai/clip-vit-base-patch32", folder: CommandRunner.fixture("models/hf-vit-quickgelu-p8"))
        defer { hub.server.stop() }
        let install = try run(["models", "install", "openai-vit-b-32"], home, extra: ["PHOTOSEARCH_HUB_URL": hub.url])
        #expect(install.status == 0, "\(install.standardError)")
        #expect(install.standardError.contains("installed openai-vit-b-32"))
        let list = try run(["models", "list"], home)
        #expect(list.standardOutput.contains("* openai-vit-b-32"))
        // Foundation's URLSession left no folder of its own in the data directory.
        #expect(try FileManager.default.contentsOfDirectory(atPath: home.root.path) == ["photosearch"])
        hub.server.stop()   // from here on, no network
        let index = try run(["index", CommandRunner.fixture("photos"), "--json"], home)
        #expect(index.status == 0, "\(index.standardError)")
        let search = try run(["search", "a cat", "--paths", "--top", "1"], home)
        #expect(search.status == 0)
        #expect(search.standardOutput.hasPrefix(CommandRunner.fixture("photos") + "/"))
    }

    @Test("the proxy from the environment is used")
    func proxy() throws {
        let home = try Home()
        // The fake hub doubles as an HTTP proxy: requests arrive in absolute form.
        let hub = try FakeHub(repository: "openai/clip-vit-base-patch32", folder: CommandRunner.fixture("models/hf-vit-quickgelu-p8"))
        defer { hub.server.stop() }
        let result = try run(["models", "install", "openai-vit-b-32"], home,
                             extra: ["PHOTOSEARCH_HUB_URL": "http://hub.photosearch.invalid", "http_proxy": hub.url])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(hub.server.requests.allSatisfy { $0.target.hasPrefix("http://hub.photosearch.invalid/") })
        #expect(!hub.server.requests.isEmpty)
    }

    @Test("a hub address that is not http(s) is refused before any request: a mistyped mirror must not fall back to huggingface.co",
          arguments: ["http://[mirror.lan", "", "mirror.lan", "ftp://mirror.lan/", "http://"])
    func invalidHub(value: String) throws {
        let home = try Home()
        // Every request, to any hub, would reach this proxy.
        let proxy = try FakeHub(repository: "openai/clip-vit-base-patch32", folder: CommandRunner.fixture("models/hf-vit-quickgelu-p8"))
        defer { proxy.server.stop() }
        let result = try run(["models", "install", "openai-vit-b-32"], home,
                             extra: ["PHOTOSEARCH_HUB_URL": value, "http_proxy": proxy.url, "https_proxy": proxy.url])
        #expect(result.status == 64)
        #expect(result.standardError == "photosearch: error: PHOTOSEARCH_HUB_URL \"\(value)\" is not an http:// or https:// address; nothing was downloaded\n",
                "\(result.standardError)")
        #expect(proxy.server.requests.isEmpty, "\(proxy.server.requests.map(\.target))")
    }

    @Test("an installed model's name is that model, whatever folder of that name the current one holds; ./NAME is the folder")
    func nameBeforeFolder() throws {
        let home = try Home()
        #expect(try run(["models", "import", CommandRunner.fixture("models/oc-vit-gelu-p16"), "--name", "small"], home).status == 0)
        let here = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: here.file("small"), withIntermediateDirectories: true)
        let environment = home.environment.merging(["XDG_CACHE_HOME": CommandRunner.cacheHome]) { $1 }
        let installed = try CommandRunner.run(executable: CommandRunner.executable, ["embed", "--model", "small", "--text", "a cat"],
                                              environment: environment, currentDirectory: here.path)
        #expect(installed.status == 0, "\(installed.standardError)")
        let folder = try CommandRunner.run(executable: CommandRunner.executable, ["embed", "--model", "./small", "--text", "a cat"],
                                           environment: environment, currentDirectory: here.path)
        #expect(folder.status != 0 && folder.standardError.contains("is not a CLIP model directory"), "\(folder.standardError)")
    }

    @Test("a model imported under a catalogue name is not that catalogue model")
    func importedUnderCatalogueName() throws {
        let home = try Home()
        #expect(try run(["models", "import", CommandRunner.fixture("models/oc-vit-gelu-p16"), "--name", "openai-vit-b-32"], home).status == 0)
        let list = try run(["models", "list"], home).standardOutput
        let row = try #require(list.split(separator: "\n").first { $0.hasPrefix("  openai-vit-b-32 ") })
        #expect(row.contains("name used by another model") && !row.contains("installed"), "\(row)")
        #expect(list.contains("* openai-vit-b-32") && list.contains("imported"))
        // One name column, as wide as the longest name (siglip-b-16-256-multilingual's),
        // in both lists: the sizes start in one column (the installed list's
        // two further right, after its "* ").
        let sizeColumns = list.split(separator: "\n").compactMap { row in
            row.firstRange(of: #/  \d+\.\d (MB|GB) /#).map { row.distance(from: row.startIndex, to: $0.lowerBound) }
        }
        #expect(sizeColumns.count > 20 && Set(sizeColumns.dropFirst()).count == 1 && sizeColumns[0] == sizeColumns[1] + 2, "\(sizeColumns)")
    }

    @Test("an index keeps its model whatever the default is; a different model than the index's is refused")
    func importAndMismatch() throws {
        let home = try Home()
        #expect(try run(["models", "import", CommandRunner.fixture("models/oc-vit-gelu-p16"), "--name", "small"], home).status == 0)
        #expect(try run(["models", "import", CommandRunner.fixture("models/oc-vit-quickgelu-p8")], home).status == 0)
        let index = try run(["index", CommandRunner.fixture("photos")], home)
        #expect(index.status == 0)
        let before = try run(["search", "a cat", "--paths"], home)
        #expect(before.status == 0)
        let chosen = try run(["models", "default", "oc-vit-quickgelu-p8"], home)
        #expect(chosen.status == 0 && chosen.standardError == "photosearch: oc-vit-quickgelu-p8 is now the default model\n")
        // Without --model, the index's own model (installed as "small") answers, as before.
        let search = try run(["search", "a cat", "--paths"], home)
        #expect(search.status == 0, "\(search.standardError)")
        #expect(search.standardOutput == before.standardOutput)
        let reindex = try run(["index", CommandRunner.fixture("photos")], home)
        #expect(reindex.status == 0, "\(reindex.standardError)")
        #expect(reindex.standardError.hasPrefix("""
            photosearch: this index holds small's vectors: indexing with it, not with the default model oc-vit-quickgelu-p8 \
            (--replace-model re-embeds every photo with oc-vit-quickgelu-p8)

            """), "\(reindex.standardError)")
        // A model asked for by name or by $PHOTOSEARCH_MODEL is used, and refused.
        for (arguments, extra) in [(["--model", "oc-vit-quickgelu-p8"], [:]), ([], ["PHOTOSEARCH_MODEL": "oc-vit-quickgelu-p8"])] {
            let other = try run(["search", "a cat"] + arguments, home, extra: extra)
            #expect(other.status == 1)
            #expect(other.standardError.contains("re-index with this one: photosearch index --replace-model"))
        }
        // Its model gone, the default is used: refused.
        let removed = try run(["models", "remove", "small"], home)
        #expect(removed.status == 0 && removed.standardError == "photosearch: removed small (7.1 MB freed)\n", "\(removed.standardError)")
        let gone = try run(["search", "a cat"], home)
        #expect(gone.status == 1)
        #expect(gone.standardError.hasPrefix("photosearch: this index's model, small, is no longer installed nor in the folder it was read "
                                             + "from; trying the default model (photosearch models import DIR --name small puts it back)\n"),
                "\(gone.standardError)")
        #expect(gone.standardError.contains("model small"), "\(gone.standardError)")
        let replaced = try run(["index", "--replace-model", CommandRunner.fixture("photos")], home)
        #expect(replaced.status == 0, "\(replaced.standardError)")
        #expect(!replaced.standardError.contains("this index holds"))
        let after = try run(["search", "a cat"], home)
        #expect(after.status == 0 && !after.standardError.contains("no longer installed"), "\(after.standardError)")
        // An index made with a model folder outside the store finds it there.
        let other = home.root.appendingPathComponent("other.sqlite").path
        let folder = CommandRunner.fixture("models/oc-vit-gelu-p16")
        #expect(try run(["index", CommandRunner.fixture("photos"), "--model", folder, "--db", other], home).status == 0)
        let outside = try run(["search", "a cat", "--db", other, "--paths"], home)
        #expect(outside.status == 0, "\(outside.standardError)")
        // "default" names the file that says which model is the default, not a model.
        let reserved = try run(["models", "import", CommandRunner.fixture("models/oc-vit-gelu-p16"), "--name", "default"], home)
        #expect(reserved.status == 64 && reserved.standardError.contains("\"default\" cannot be a model name"), "\(reserved.standardError)")
        // Names that cannot be: refused as such, a usage error, whichever command.
        let long = String(repeating: "m", count: 101)
        for command in [["default", ""], ["remove", ""], ["default", long], ["import", CommandRunner.fixture("models/oc-vit-gelu-p16"), "--name", long]] {
            let result = try run(["models"] + command, home)
            #expect(result.status == 64 && result.standardError.contains("cannot be a model name: use up to 100 letters"),
                    "\(command): \(result.standardError)")
        }
        for command in [["remove", "default"], ["default", "default"]] {
            let result = try run(["models"] + command, home)
            #expect(result.status != 0 && result.standardError.contains("default"), "\(command): \(result.standardError)")
        }
        #expect(try run(["models", "list"], home).standardOutput.contains("* oc-vit-quickgelu-p8"))
        let missing = try run(["models", "import", CommandRunner.fixture("photos")], home)
        #expect(missing.status == 1)
        #expect(missing.standardError.hasPrefix("photosearch: error: \(CommandRunner.fixture("photos")) is not a usable model"))
    }
}
