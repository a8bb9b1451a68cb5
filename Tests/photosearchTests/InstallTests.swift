import Foundation
import Testing
import TestSupport

@Suite("scripts/install.sh")
struct InstallTests {
    static let repository = FixtureFiles.root.deletingLastPathComponent()

    @Test("installs a binary that runs from an empty folder with its build folder gone, plus completions and a man page")
    func installedBinary() throws {
        let prefix = try TemporaryDirectory()
        let install = try CommandRunner.run(executable: URL(fileURLWithPath: "/bin/bash"),
                                            [Self.repository.appendingPathComponent("scripts/install.sh").path, prefix.path])
        try #require(install.status == 0, "\(install.standardError)")
        #expect(install.standardOutput.contains("installed \(prefix.path)/bin/photosearch"))

        // Its build folder renamed away, no toolchain on the PATH, an empty working folder.
        let build = Self.repository.appendingPathComponent(".build-install")
        let away = Self.repository.appendingPathComponent(".build-install-away-\(UUID().uuidString)")
        try FileManager.default.moveItem(at: build, to: away)
        defer { try? FileManager.default.moveItem(at: away, to: build) }
        let empty = try TemporaryDirectory()
        let binary = URL(fileURLWithPath: prefix.path + "/bin/photosearch")
        let environment = ["PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": "", "PHOTOSEARCH_MODEL": "", "PHOTOSEARCH_DB": ""]
        let model = FixtureFiles.path("models/oc-vit-gelu-p16")
        let index = try CommandRunner.run(executable: binary, ["index", FixtureFiles.path("photos"), "--model", model, "--db", "i.sqlite"],
                                          environment: environment, currentDirectory: empty.path)
        #expect(index.status == 0, "\(index.standardError)")
        // A text query: the BPE vocabulary comes from inside the binary.
        let search = try CommandRunner.run(executable: binary, ["search", "a cat on a rug", "--model", model, "--db", "i.sqlite", "--paths", "--top", "1"],
                                           environment: environment, currentDirectory: empty.path)
        #expect(search.status == 0, "\(search.standardError)")
        #expect(search.standardOutput.hasPrefix(FixtureFiles.path("photos") + "/"))

        let bash = try String(contentsOfFile: prefix.path + "/share/bash-completion/completions/photosearch", encoding: .utf8)
        #expect(bash.contains("_photosearch()"))
        let zsh = try String(contentsOfFile: prefix.path + "/share/zsh/site-functions/_photosearch", encoding: .utf8)
        #expect(zsh.hasPrefix("#compdef photosearch"))
        let fish = try String(contentsOfFile: prefix.path + "/share/fish/vendor_completions.d/photosearch.fish", encoding: .utf8)
        #expect(fish.contains("complete -c 'photosearch'"))
        let manual = try String(contentsOfFile: prefix.path + "/share/man/man1/photosearch.1", encoding: .utf8)
        #expect(manual.contains(".Dt PHOTOSEARCH 1") && manual.contains("Semantic photo search on your own computer.")
                && manual.contains(".Sh EXIT STATUS"))
    }
}
