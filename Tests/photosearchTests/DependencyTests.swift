import Foundation
import Testing
import TestSupport

/// photosearch as a library other Swift packages depend on by version:
/// SwiftPM refuses a versioned dependency whose targets use unsafe flags,
/// so this builds a scratch package against a tagged copy of this
/// repository, through a local git URL, and runs one search with it.
@Suite("photosearch as a dependency")
struct DependencyTests {
    /// The repository this test was built from.
    static let root: URL = {
        var folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: folder.appendingPathComponent("Package.swift").path) {
            folder = folder.deletingLastPathComponent()
        }
        return folder
    }()

    func run(_ program: String, _ arguments: [String], in folder: String? = nil) throws -> CommandRunner.Result {
        try CommandRunner.run(executable: URL(fileURLWithPath: program), arguments, currentDirectory: folder)
    }

    @Test("a package depending on photosearch from: a version tag builds, and searches an index with PhotoLibrary")
    func dependByVersion() throws {
        let scratch = try TemporaryDirectory()
        // The working tree as it is (committed or not), as a repository of its
        // own with a version tag.
        let source = scratch.file("photosearch")
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        let listed = try run("/usr/bin/git", ["-C", Self.root.path, "ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        for relative in listed.standardOutput.split(separator: "\0").map(String.init) where !relative.hasPrefix("fixtures/") {
            let target = source + "/" + relative
            try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            if FileManager.default.fileExists(atPath: Self.root.appendingPathComponent(relative).path) {
                try FileManager.default.copyItem(atPath: Self.root.appendingPathComponent(relative).path, toPath: target)
            }
        }
        for arguments in [["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "snapshot"], ["tag", "9.9.9"]] {
            let git = try run("/usr/bin/git", ["-C", source, "-c", "user.name=test", "-c", "user.email=test@example.invalid"] + arguments)
            try #require(git.status == 0, "git \(arguments): \(git.standardError)")
        }

        let consumer = scratch.file("consumer")
        try FileManager.default.createDirectory(atPath: consumer + "/Sources/consumer", withIntermediateDirectories: true)
        try """
        // swift-tools-version:6.0
        import PackageDescription

        let package = Package(
            name: "consumer",
            dependencies: [.package(url: "file://\(source)", from: "9.9.9")],
            targets: [.executableTarget(name: "consumer", dependencies: [.product(name: "PhotoIndex", package: "photosearch")])]
        )
        """.write(toFile: consumer + "/Package.swift", atomically: true, encoding: .utf8)
        try """
        import PhotoIndex

        // An app's own photo search: the index photosearch made, and its model.
        let library = PhotoLibrary(database: CommandLine.arguments[1], model: CommandLine.arguments[2])
        let hits = try library.search(try SearchQuery.parse("a cat on a sofa"), .init(top: 2))
        for hit in hits { print(hit.path) }
        """.write(toFile: consumer + "/Sources/consumer/main.swift", atomically: true, encoding: .utf8)
        let build = try run("/usr/bin/env", ["swift", "build", "--package-path", consumer, "--scratch-path", consumer + "/.build"])
        try #require(build.status == 0, "\(build.standardOutput.suffix(3000))\n\(build.standardError.suffix(3000))")
        #expect(!build.standardError.contains("unsafe"))

        let database = scratch.file("index.sqlite"), model = CommandRunner.fixture("models/oc-vit-gelu-p16")
        let indexed = try CommandRunner.run(["index", CommandRunner.fixture("photos/chelsea.png"), CommandRunner.fixture("photos/rocket.jpg"),
                                             "--db", database, "--model", model])
        try #require(indexed.status == 0, "\(indexed.standardError)")
        let found = try run(consumer + "/.build/debug/consumer", [database, model])
        #expect(found.status == 0, "\(found.standardError)")
        #expect(Set(found.standardOutput.split(separator: "\n").map(String.init))
            == [CommandRunner.fixture("photos/chelsea.png"), CommandRunner.fixture("photos/rocket.jpg")])
    }
}
