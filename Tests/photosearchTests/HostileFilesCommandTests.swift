import Foundation
import Testing
import TestSupport

/// Files that are not what their names say: FIFOs and devices where a
/// photo, the weights, a prepared-weights file, the vector file or the
/// index belong, and huge files that are not photos. Each is refused at
/// once, by what it is, with one line and a non-zero exit; none blocks the
/// process or is read whole first.
@Suite("Files that are not what they claim", .serialized)
struct HostileFilesCommandTests {
    static let model = CommandRunner.fixture("models/oc-vit-gelu-p16")

    /// Runs photosearch; a child still running after `guardSeconds` is
    /// killed and reported as hung (the test then fails instead of hanging).
    func run(_ arguments: [String], environment: [String: String] = [:], guardSeconds: Int = 120) throws -> CommandRunner.Result {
        let child = try ChildProcess(arguments, environment: environment)
        let watchdog = DispatchWorkItem { child.signal(SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(guardSeconds), execute: watchdog)
        let ended = child.finish()
        watchdog.cancel()
        #expect(ended.reason == .exit, "photosearch \(arguments.joined(separator: " ")) hung and was killed")
        return CommandRunner.Result(status: ended.status, standardOutput: ended.remainingOutput, standardError: ended.standardError)
    }

    @Test("a FIFO or a device given as a photo is refused at once")
    func fifoPhoto() throws {
        let folder = try TemporaryDirectory()
        let fifo = folder.file("photo.jpg")
        #expect(mkfifo(fifo, 0o644) == 0)
        let embedded = try run(["embed", "--model", Self.model, "--image", fifo])
        #expect(embedded.status != 0)
        #expect(embedded.standardError.contains("it is a named pipe (FIFO), not a regular file"), "\(embedded.standardError)")
        let device = try run(["embed", "--model", Self.model, "--image", "/dev/zero"])
        #expect(device.status != 0 && device.standardError.contains("it is a character device, not a regular file"), "\(device.standardError)")
    }

    @Test("what an error quotes from a hostile model (escape sequences, newlines, 100 000 characters) is shown as one escaped line")
    func hostileTextInErrors() throws {
        let folder = try TemporaryDirectory()
        let model = folder.file("model")
        try FileManager.default.copyItem(atPath: Self.model, toPath: model)
        let config = model + "/open_clip_config.json"
        var text = try String(contentsOfFile: config, encoding: .utf8)
        text = text.replacingOccurrences(of: #""interpolation": "bicubic""#,
                                         with: #""interpolation": "\u001b[2J\n"# + String(repeating: "x", count: 100_000) + "\"")
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        let result = try run(["embed", "--model", model, "--text", "a cat"])
        #expect(result.status != 0)
        let error = result.standardError
        #expect(error.hasPrefix("photosearch: error: ") && error.hasSuffix(" more characters)\n"), "\(error.prefix(300))")
        #expect(error.filter { $0 == "\n" }.count == 1 && !error.unicodeScalars.contains("\u{1B}"))
        #expect(error.contains(#"\x1b[2J\x0a"#) && error.count < 1100, "\(error.prefix(300))")
    }

    @Test("a FIFO in place of the weights, a configuration or a prepared-weights file never blocks")
    func fifoModelFiles() throws {
        let folder = try TemporaryDirectory()
        for name in ["open_clip_model.safetensors", "open_clip_config.json"] {
            let model = folder.file("model-" + name)
            try FileManager.default.copyItem(atPath: Self.model, toPath: model)
            try FileManager.default.removeItem(atPath: model + "/" + name)
            #expect(mkfifo(model + "/" + name, 0o644) == 0)
            let result = try run(["embed", "--model", model, "--text", "a cat"])
            #expect(result.status != 0 && result.standardError.contains("not a regular file"), "\(name): \(result.standardError)")
        }
        // The prepared copy of a tower: refused as damaged, prepared again.
        let cache = folder.file("cache")
        #expect(try run(["embed", "--model", Self.model, "--text", "a cat"], environment: ["XDG_CACHE_HOME": cache]).status == 0)
        let prepared = try #require(try FileManager.default.contentsOfDirectory(atPath: cache + "/photosearch/prepared").first)
        try FileManager.default.removeItem(atPath: cache + "/photosearch/prepared/" + prepared)
        #expect(mkfifo(cache + "/photosearch/prepared/" + prepared, 0o644) == 0)
        let again = try run(["embed", "--model", Self.model, "--text", "a cat"], environment: ["XDG_CACHE_HOME": cache])
        #expect(again.status == 0, "\(again.standardError)")
        #expect(again.standardError.contains("not a regular file"), "\(again.standardError)")
    }

    @Test("a FIFO in place of the vector file is rebuilt over; in place of the index, refused")
    func fifoIndexFiles() throws {
        let folder = try TemporaryDirectory()
        let database = folder.file("index.sqlite")
        #expect(try run(["index", CommandRunner.fixture("photos/chelsea.png"), CommandRunner.fixture("photos/rocket.jpg"),
                         "--db", database, "--model", Self.model]).status == 0)
        try? FileManager.default.removeItem(atPath: database + ".vectors")
        #expect(mkfifo(database + ".vectors", 0o644) == 0)
        let search = try run(["search", "a cat", "--db", database, "--model", Self.model, "--paths"])
        #expect(search.status == 0 && search.standardOutput.split(separator: "\n").count == 2, "\(search.standardError)")

        let fifoIndex = folder.file("fifo.sqlite")
        #expect(mkfifo(fifoIndex, 0o644) == 0)
        for arguments in [["search", "a cat", "--model", Self.model], ["status"],
                          ["index", CommandRunner.fixture("photos/chelsea.png"), "--model", Self.model]] {
            let result = try run(arguments + ["--db", fifoIndex])
            #expect(result.status != 0 && result.standardError.contains("is not a regular file"), "\(arguments): \(result.standardError)")
        }
    }

    @Test("a link in place of the index's lock file is refused, and the file it names is left as it was")
    func linkedLock() throws {
        let folder = try TemporaryDirectory()
        let victim = folder.file("victim.txt"), database = folder.file("index.sqlite")
        try Data("precious\n".utf8).write(to: URL(fileURLWithPath: victim))
        for (kind, makeLink) in [("a symbolic link", { symlink(victim, database + ".lock") }), ("other names", { link(victim, database + ".lock") })] {
            #expect(makeLink() == 0)
            let result = try run(["index", CommandRunner.fixture("photos/chelsea.png"), "--db", database, "--model", Self.model])
            #expect(result.status != 0 && result.standardError.contains(database + ".lock") && result.standardError.contains(kind),
                    "\(result.standardError)")
            #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious\n")
            #expect(unlink(database + ".lock") == 0)
        }
    }

    @Test("a 1.5 GB file named .jpg that is not a photo is refused by its first bytes, never read whole")
    func hugeNonImage() throws {
        let folder = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: folder.file("photos"), withIntermediateDirectories: true)
        let huge = folder.file("photos/huge.jpg")
        #expect(FileManager.default.createFile(atPath: huge, contents: Data("not a photo".utf8)) && truncate(huge, 1_500_000_000) == 0)
        // And one over the size limit that starts like a JPEG.
        let large = folder.file("photos/large.jpg")
        #expect(FileManager.default.createFile(atPath: large, contents: Data([0xFF, 0xD8, 0xFF, 0xE0])) && truncate(large, 1_200_000_000) == 0)
        try FileManager.default.copyItem(atPath: CommandRunner.fixture("photos/chelsea.png"), toPath: folder.file("photos/cat.png"))
        let outcome = try ChildResources.run(CommandRunner.executable.path, [
            "index", folder.file("photos"), "--db", folder.file("index.sqlite"), "--model", Self.model,
        ])
        #expect(outcome.status == 0)
        // Read twice, it took 3 GB.
        #expect(outcome.peakResidentBytes < 300_000_000, "\(outcome.peakResidentBytes / 1_000_000) MB")
        let status = try CommandRunner.run(["status", "--db", folder.file("index.sqlite")])
        #expect(status.standardOutput.contains("1 indexed, 2 failed"), "\(status.standardOutput)")
        #expect(status.standardOutput.contains("not a JPEG, PNG, WebP or HEIF image"), "\(status.standardOutput)")
        #expect(status.standardOutput.contains("it is 1144 MiB, above the limit of 1024 MiB"), "\(status.standardOutput)")
        // Not "cannot read" (tried every run): unchanged, neither is tried again.
        let again = try CommandRunner.run(["index", folder.file("photos"), "--db", folder.file("index.sqlite"), "--model", Self.model])
        #expect(again.standardError.contains("3 photos: 0 added, 0 updated, 3 unchanged"), "\(again.standardError)")
    }

    @Test("eight photos whose headers claim 15 000 × 15 000 are refused on eight threads, within 300 MB")
    func lyingHeaders() throws {
        let folder = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: folder.file("photos"), withIntermediateDirectories: true)
        for index in 0..<8 {
            // Each unique (a comment segment), so none is taken for a copy of another.
            var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: CommandRunner.fixture("hostile/lying-progressive.jpg"))))
            bytes.insert(contentsOf: [0xFF, 0xFE, 0x00, 0x03, UInt8(index)], at: 2)
            try Data(bytes).write(to: URL(fileURLWithPath: folder.file("photos/lying-\(index).jpg")))
        }
        let outcome = try ChildResources.run(CommandRunner.executable.path, [
            "index", folder.file("photos"), "--db", folder.file("index.sqlite"), "--model", Self.model, "--jobs", "8",
        ])
        #expect(outcome.status == 0)
        // Decoded, each took ~700 MB of coefficient buffers: 5 GB together.
        #expect(outcome.peakResidentBytes < 300_000_000, "\(outcome.peakResidentBytes / 1_000_000) MB")
        let status = try CommandRunner.run(["status", "--db", folder.file("index.sqlite")])
        #expect(status.standardOutput.contains("0 indexed, 8 failed"), "\(status.standardOutput)")
        #expect(status.standardOutput.contains("cannot hold the 15000 × 15000 pixels its header claims"), "\(status.standardOutput)")
    }
}
