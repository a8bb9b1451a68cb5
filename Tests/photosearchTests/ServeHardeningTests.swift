import Foundation
import Testing
import TestSupport

/// `photosearch serve` against what a stranger can send: pages that rebind
/// a DNS name to 127.0.0.1, malformed parameters, slow or many clients,
/// uploads that hold memory, photos swapped for links to huge files, and
/// an index or model that changes or breaks under it. Each answer is a
/// JSON error with a 4xx or 503, never a 500, a hang or a spin.
@Suite("photosearch serve under hostile clients", .serialized)
struct ServeHardeningTests {
    typealias Gallery = ServeTests.Gallery

    struct ErrorBody: Decodable { let error: String }

    func reason(_ answer: HTTPAnswer) -> String {
        (try? JSONDecoder().decode(ErrorBody.self, from: Data(answer.body)).error) ?? "not a JSON error: \(answer.text)"
    }

    struct Status: Decodable {
        struct Busy: Decodable { let heavy: Int; let waiting: Int; let uploads: Int }
        let photos: Int
        let embedded: Int
        let precision: String?
        let busy: Busy?
    }

    func status(_ gallery: Gallery) throws -> Status {
        try JSONDecoder().decode(Status.self, from: Data(try gallery.get("/api/status").body))
    }

    @Test("DNS rebinding: without a token only this server's names are a Host, and POSTs from other origins are refused")
    func rebinding() throws {
        let gallery = try Gallery()
        let port = gallery.port
        for host in ["evil.example", "evil.example:\(port)", "127.0.0.1.evil.example:\(port)", "localhost:1", "[::2]:\(port)"] {
            let answer = try gallery.get("/api/status", headers: ["Host": host])
            #expect(answer.status == 421, "\(host): \(answer.status)")
            #expect(reason(answer).hasPrefix("this server answers only to localhost, 127.0.0.1 or [::1]"), "\(host)")
            #expect(!answer.text.contains("photos\""), "\(host)")
        }
        for host in ["localhost:\(port)", "127.0.0.1:\(port)", "[::1]:\(port)", "LOCALHOST:\(port)", "localhost"] {
            #expect(try gallery.get("/api/status", headers: ["Host": host]).status == 200, "\(host)")
        }
        // Two Host headers, this server's and another (in either order): refused whole.
        let twice = try HTTPAnswer.request(port: port, method: "GET", target: "/api/status",
                                           headers: ["Host": "127.0.0.1:\(port)", "host": "evil.example"])
        #expect(twice.status == 400 && reason(twice) == "the request has more than one Host header", "\(twice.status) \(twice.text)")
        // A page elsewhere posting an image: refused by its Origin.
        let foreign = try HTTPAnswer.request(port: port, method: "POST", target: "/api/search/image",
                                             headers: ["Origin": "http://evil.example"], body: Array("x".utf8))
        #expect(foreign.status == 403 && reason(foreign).contains("evil.example"))
        let own = try HTTPAnswer.request(port: port, method: "POST", target: "/api/search/image",
                                         headers: ["Origin": "http://127.0.0.1:\(port)"], body: Array("x".utf8))
        #expect(own.status == 400, "\(own.text)")
    }

    @Test("a parameter that is not valid percent-encoding, or a weight past Float, is a 400 naming it, not a query without it")
    func malformedParameters() throws {
        let gallery = try Gallery()
        let cases: [(String, String)] = [
            ("/api/search?q=cat&in=/photos/sub%ff", "the parameter in is not valid percent-encoding"),
            ("/api/search?q=cat&after=2030%ff", "the parameter after is not valid percent-encoding"),
            ("/api/search?q=cat%", "the parameter q is not valid percent-encoding"),
            ("/api/similar/1?top=1%zz", "the parameter top is not valid percent-encoding"),
            ("/api/search?q=1000000000000000000000000000000000000000:cat",
             "malformed query: weight \"1000000000000000000000000000000000000000\" must be a number from 0.001 to 1000"),
        ]
        for (target, message) in cases {
            let answer = try gallery.get(target)
            #expect(answer.status == 400 && reason(answer) == message, "\(target): \(answer.status) \(answer.text)")
        }
        let cli = try CommandRunner.run(["search", "1000000000000000000000000000000000000000:cat", "--db", gallery.database,
                                         "--model", ServeTests.model])
        #expect(cli.status == 64 && cli.standardError.contains("must be a number from 0.001 to 1000"), "\(cli.standardError)")
    }

    @Test("no 500: another model refuses to start; a query the model cannot embed is 422; a corrupt index is 503")
    func noServerErrors() throws {
        let gallery = try Gallery()
        // Another model than the index's: refused before serving, as `search` does.
        let other = try CommandRunner.run(["serve", "--db", gallery.database, "--model", CommandRunner.fixture("models/oc-vit-quickgelu-p8"),
                                           "--port", "0"])
        #expect(other.status != 0 && other.standardError.contains("this index holds 32-dimensional embeddings"), "\(other.standardError)")

        // A model whose embedding of one word ("dog", token 1929) is NaN
        // (its probe, "a photo of a cat", passes).
        let damaged = try TemporaryDirectory()
        let weights = try nanTokenModel(into: damaged, token: 1929)
        let index = damaged.file("index.sqlite")
        #expect(try CommandRunner.run(["index", gallery.photos, "--db", index, "--model", weights]).status == 0)
        let server = try Gallery.attach(database: index, model: weights)
        let dog = try server.get("/api/search?q=dog")
        #expect(dog.status == 422 && reason(dog).hasPrefix("the model cannot embed this query"), "\(dog.text)")
        #expect(try server.get("/api/search?q=cat").status == 200)

        // The index overwritten with garbage while serving: every route
        // answers with a JSON reason, none with a 500.
        var garbage = [UInt8](repeating: 0x5A, count: 64 << 10)
        garbage[0] = 0
        try Data(garbage).write(to: URL(fileURLWithPath: gallery.database))
        try? FileManager.default.removeItem(atPath: gallery.database + ".vectors")
        for target in ["/api/status", "/api/search?q=cat", "/api/photos/1", "/api/photos/1/thumbnail", "/api/similar/1", "/api/photos/1/file"] {
            let answer = try gallery.get(target)
            #expect(answer.status != 500 && !reason(answer).hasPrefix("not a JSON error"), "\(target): \(answer.status) \(answer.text)")
        }
        // A server started on it refuses to, saying why.
        let corrupt = try CommandRunner.run(["serve", "--db", gallery.database, "--model", ServeTests.model, "--port", "0"])
        #expect(corrupt.status != 0 && corrupt.standardError.contains(gallery.database), "\(corrupt.standardError)")
    }

    @Test("names that are not UTF-8 are served, and shown in JSON as the CLI shows them")
    func latin1Names() throws {
        let gallery = try Gallery()
        // photos/café.jpg with é as the single Latin-1 byte 0xE9.
        let name = Array(gallery.photos.utf8) + Array("/caf".utf8) + [0xE9] + Array(".jpg".utf8)
        // rocket.jpg with a comment segment: not the same bytes as the gallery's copy
        // (which a search would show it as).
        let rocket = Array(try Data(contentsOf: URL(fileURLWithPath: CommandRunner.fixture("photos/rocket.jpg"))))
        let comment = Array("café".utf8)
        let original = Array(rocket[0..<2]) + [0xFF, 0xFE, 0, UInt8(comment.count + 2)] + comment + Array(rocket[2...])
        let descriptor = (name.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer { open($0.baseAddress!, O_WRONLY | O_CREAT, 0o644) }
        try #require(descriptor >= 0)
        #expect(original.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) } == original.count)
        close(descriptor)
        #expect(try CommandRunner.run(["index", gallery.photos, "--db", gallery.database, "--model", ServeTests.model]).status == 0)

        struct Results: Decodable { struct Hit: Decodable { let id: Int64; let path: String; let file: String }; let results: [Hit] }
        let found = try JSONDecoder().decode(Results.self, from: Data(try gallery.get("/api/search?q=rocket&top=20").body))
        let shown = gallery.photos + "/caf\\xe9.jpg"
        let hit = try #require(found.results.first { $0.path == shown }, "\(found.results.map(\.path))")
        let file = try gallery.get(hit.file)
        #expect(file.status == 200 && file.body == original)
        struct Photo: Decodable { let path: String }
        #expect(try JSONDecoder().decode(Photo.self, from: Data(try gallery.get("/api/photos/\(hit.id)").body)).path == shown)
        let cli = try CommandRunner.run(["search", "rocket", "--json", "--top", "20", "--db", gallery.database, "--model", ServeTests.model])
        #expect(cli.standardOutput.contains("\"path\":\"\(shown.replacingOccurrences(of: "\\", with: "\\\\"))\""), "\(cli.standardOutput)")
    }

    @Test("uploads beyond two at once are 503 with Retry-After before their bodies are read; cheap routes still answer")
    func uploadConcurrency() throws {
        let gallery = try Gallery()
        // Two uploads that announce 20 MB and send a few bytes, then wait.
        let held = try (0..<2).map { _ in
            try LoopbackConnection(port: gallery.port, sending: Array("POST /api/search/image HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 20000000\r\n\r\nabc".utf8))
        }
        // Until the server has taken both (its status says so).
        while try status(gallery).busy?.uploads != 2 {}
        let third = try gallery.post("/api/search/image", body: Array(try Data(contentsOf: URL(fileURLWithPath: CommandRunner.fixture("photos/chelsea.png")))))
        #expect(third.status == 503 && third.header("retry-after") == "2", "\(third.status) \(third.text)")
        #expect(reason(third) == "the server is busy with other requests; try again in a moment")
        // Status, details and stored thumbnails do not wait for them.
        #expect(try gallery.get("/api/status").status == 200)
        #expect(try gallery.get("/api/photos/1").status == 200)
        #expect(try gallery.get("/api/photos/1/thumbnail").status == 200)
        held.forEach { $0.close() }
        while try status(gallery).busy?.uploads != 0 {}
        let after = try gallery.post("/api/search/image", body: Array(try Data(contentsOf: URL(fileURLWithPath: CommandRunner.fixture("photos/chelsea.png")))))
        #expect(after.status == 200, "\(after.text)")
    }

    @Test("status and searches answer while uploads decode for seconds: each runs on a thread of its own, not in a search's turn")
    func statusBesideHeavyWork() throws {
        let gallery = try Gallery()
        // Two uploads of a valid 15 800² arithmetic-coded progressive JPEG
        // (302 bytes, seconds of decoding each): as many as may run at once.
        let photo = Array(try Data(contentsOf: URL(fileURLWithPath: CommandRunner.fixture("hostile/slow-progressive.jpg"))))
        let head = "POST /api/search/image HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(photo.count)\r\nConnection: close\r\n\r\n"
        let uploads = try (0..<2).map { _ in try LoopbackConnection(port: gallery.port, sending: Array(head.utf8) + photo) }
        // Status is answered while both run: it sees both. (On dispatch's
        // worker threads, which async routes share, two decodes on two
        // cores held it until one ended, and it never saw them.) A text
        // search answers too, while both still run: in the heavy turns the
        // uploads used to take, it waited seconds for one.
        var seen: [Int] = []
        var searchedBeside = false
        let deadline = Date() + 120   // a guard against hanging, not a measure
        repeat {
            seen.append(try status(gallery).busy?.uploads ?? -1)
            if seen.last == 2, !searchedBeside {
                #expect(try gallery.get("/api/search?q=a+cat&top=3").status == 200)
                searchedBeside = try status(gallery).busy.map { $0.uploads == 2 && $0.heavy == 0 } ?? false
            }
        } while (seen.last != 0 || !seen.contains(2)) && Date() < deadline
        try #require(seen.last == 0 && seen.contains(2), "the uploads never ran, or never ended: \(seen.suffix(20))")
        #expect(searchedBeside, "a search did not answer while both uploads decoded")
        // Status answered again and again while both decoded, not once
        // in a gap before they began.
        #expect(seen.filter { $0 == 2 }.count >= 10, "\(seen)")
        for upload in uploads {
            guard case let .closed(bytes) = upload.readToEnd(guardSeconds: 60) else {
                Issue.record("an upload was not answered")
                continue
            }
            #expect(String(decoding: bytes, as: UTF8.self).hasPrefix("HTTP/1.1 200"), "\(String(decoding: bytes.prefix(200), as: UTF8.self))")
        }
    }

    struct Results: Decodable { struct Hit: Decodable { let id: Int64 }; let results: [Hit] }

    @Test("clients that stop reading their answers cannot lock others out either: they wait on their clients too")
    func answersUnread() throws {
        let gallery = try Gallery(arguments: ["--idle-timeout", "600"], launcher: ["/usr/bin/prlimit", "--nofile=160:160"])
        // Each asks for the largest photo (cat.png, 240 KB) 40 times over,
        // through a small window, and reads none of it.
        let largest = try #require(JSONDecoder().decode(Results.self, from: Data(try gallery.get("/api/search?q=cat.png").body)).results.first?.id)
        let request = "GET /api/photos/\(largest)/file HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        let held = try (0..<100).map { _ in
            try LoopbackConnection(port: gallery.port, sending: Array(String(repeating: request, count: 40).utf8), receiveBuffer: 4096)
        }
        try expectNewClientsAnswered(gallery, while: "others held every connection, reading nothing")
        held.forEach { $0.close() }
    }

    @Test("an upload that declares more than 30 MB is refused at once, before its body, and its connection closed")
    func declaredTooLarge() throws {
        let gallery = try Gallery(arguments: ["--idle-timeout", "600"])
        let head = "POST /api/search/image HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(31 << 20)\r\n\r\n"
        let upload = try LoopbackConnection(port: gallery.port, sending: Array(head.utf8) + [UInt8](repeating: 0, count: 1 << 20))
        // Answered and closed, the rest not waited for (the guard is far below the idle timeout).
        guard case let .closed(bytes) = upload.readToEnd(guardSeconds: 60) else { Issue.record("not closed"); return }
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 413") && text.contains("the image is larger than 30 MB"), "\(text.prefix(300))")
    }

    @Test("HEAD answers each GET route's headers, its Content-Length included, and no body: the next answer follows at once")
    func head() throws {
        let gallery = try Gallery()
        let largest = try #require(JSONDecoder().decode(Results.self, from: Data(try gallery.get("/api/search?q=cat.png").body)).results.first?.id)
        let file = try gallery.get("/api/photos/\(largest)/file")
        let targets = ["/", "/api/status", "/api/photos/\(largest)/file", "/api/photos/\(largest)/thumbnail", "/nowhere"]
        var requests = targets.map { "HEAD \($0) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" }.joined()
        requests += "GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        let connection = try LoopbackConnection(port: gallery.port, sending: Array(requests.utf8))
        guard case let .closed(bytes) = connection.readToEnd(guardSeconds: 60) else { Issue.record("not closed"); return }
        // Five heads, each straight after the last (no body between them), then the GET's whole answer.
        let answers = String(decoding: bytes, as: UTF8.self).components(separatedBy: "\r\n\r\n")
        try #require(answers.count == 7, "\(answers)")
        let statuses = answers.prefix(6).map { $0.split(separator: " ").dropFirst().first.map(String.init) ?? "" }
        #expect(statuses == ["200", "200", "200", "200", "404", "200"], "\(answers)")
        let lengths = answers.prefix(5).map { head in
            head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }.map { Int($0.split(separator: " ").last!)! }
        }
        #expect(lengths[2] == file.body.count && file.body.count > 100_000, "\(lengths)")
        #expect(lengths.allSatisfy { ($0 ?? 0) > 0 }, "\(lengths)")
        #expect(answers[0].contains("Content-Security-Policy:") && answers[3].contains("Content-Type: image/jpeg"), "\(answers[0])")
        #expect(answers[6].hasPrefix("{") && answers[6].hasSuffix("}"), "\(answers[6])")
    }

    @Test("a client that never finishes its request head is disconnected after --idle-timeout")
    func slowClient() throws {
        let gallery = try Gallery(arguments: ["--idle-timeout", "1"])
        let slow = try LoopbackConnection(port: gallery.port, sending: Array("GET /api/status HTTP/1.1\r\nHost: 127.0".utf8))
        // The server closes it: end of stream, and no answer (the guard is 60 s).
        #expect(slow.readToEnd(guardSeconds: 60) == .closed([]))
        #expect(try gallery.get("/api/status").status == 200)
    }

    @Test("out of descriptors, the server stops accepting instead of spinning, and serves again when clients leave")
    func descriptorExhaustion() throws {
        let gallery = try Gallery(launcher: ["/usr/bin/prlimit", "--nofile=160:160"])
        var idle: [LoopbackConnection] = []
        for _ in 0..<250 { idle.append(try LoopbackConnection(port: gallery.port, sending: [])) }
        // Every connection the server can hold is held; the rest wait in the
        // kernel's backlog. A server that accept(2)s into EMFILE spins a core.
        let before = cpuSeconds(gallery.server.pid)
        // A measurement window, not a wait for an event.
        var window = timespec(tv_sec: 1, tv_nsec: 0), left = timespec()
        while nanosleep(&window, &left) != 0 { window = left }
        let used = cpuSeconds(gallery.server.pid) - before
        #expect(used < 0.25, "\(used) s of CPU in 1 s with every descriptor taken")
        idle.forEach { $0.close() }
        #expect(try gallery.get("/api/status").status == 200)
    }

    @Test("clients holding every connection, between requests or mid-head, cannot lock others out: the longest waiting make room")
    func connectionsHeld() throws {
        // About 66 connections at most with 160 descriptors; an idle timeout
        // far past the guard below, so that only making room can answer.
        let gallery = try Gallery(arguments: ["--idle-timeout", "600"], launcher: ["/usr/bin/prlimit", "--nofile=160:160"])
        let status = Array("GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        // A request at work all along (an upload that takes seconds to decode) is never closed to make room.
        let photo = Array(try Data(contentsOf: URL(fileURLWithPath: CommandRunner.fixture("hostile/slow-progressive.jpg"))))
        let upload = try LoopbackConnection(port: gallery.port, sending: Array(
            "POST /api/search/image HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(photo.count)\r\nConnection: close\r\n\r\n".utf8) + photo)
        while try self.status(gallery).busy?.uploads != 1 {}
        var held: [LoopbackConnection] = []
        for index in 0..<200 {
            // Half keep their connection after an answer, half never finish a head.
            held.append(try LoopbackConnection(port: gallery.port, sending: index % 2 == 0 ? status : Array(status.prefix(20))))
        }
        try expectNewClientsAnswered(gallery, while: "others held every connection")
        expectAnsweredOK(upload, "the upload")
        held.forEach { $0.close() }
    }

    @Test("a photo replaced by a link to a huge file is refused by its size, without reading it")
    func linkToHugeFile() throws {
        let gallery = try Gallery()
        let huge = gallery.root.appendingPathComponent("huge.bin").path
        #expect(FileManager.default.createFile(atPath: huge, contents: nil) && truncate(huge, 3 << 30) == 0)
        struct Results: Decodable { struct Hit: Decodable { let path: String; let file: String }; let results: [Hit] }
        let found = try JSONDecoder().decode(Results.self, from: Data(try gallery.get("/api/search?q=x&top=10").body))
        let rocket = try #require(found.results.first { $0.path.hasSuffix("rocket.jpg") })
        try FileManager.default.removeItem(atPath: rocket.path)
        try FileManager.default.createSymbolicLink(atPath: rocket.path, withDestinationPath: huge)
        for _ in 0..<3 {
            let answer = try gallery.get(rocket.file)
            #expect(answer.status == 404 && reason(answer).hasSuffix("has changed since it was indexed; index its folder again"))
        }
        // Read whole, 3 GB would have passed through the server's memory.
        #expect(peakResidentBytes(gallery.server.pid) < 400_000_000)
        // A FIFO in its place is not waited on either.
        try FileManager.default.removeItem(atPath: rocket.path)
        #expect(mkfifo(rocket.path, 0o644) == 0)
        #expect(try gallery.get(rocket.file).status == 404)
    }

    @Test("a thumbnail made on request is stored only under the writer lock; while an indexer holds it, not at all")
    func thumbnailWrites() throws {
        let gallery = try Gallery()
        func stored() throws -> Int {
            Int(try CommandRunner.sqlite(gallery.database, "SELECT COUNT(*) FROM thumbnails")) ?? -1
        }
        // An index from before thumbnails were stored.
        _ = try CommandRunner.sqlite(gallery.database, "DELETE FROM thumbnails")
        #expect(try stored() == 0)
        // Another process is indexing: it holds the writer lock.
        let lock = open(gallery.database + ".lock", O_RDWR | O_CREAT, 0o644)
        #expect(lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) == 0)
        #expect(try gallery.get("/api/photos/1/thumbnail").status == 200)
        #expect(try stored() == 0)
        flock(lock, LOCK_UN)
        close(lock)
        #expect(try gallery.get("/api/photos/2/thumbnail").status == 200)
        #expect(try stored() == 1)
    }

    @Test("a running server follows the index when another process replaces its model or precision")
    func followsTheIndex() throws {
        let gallery = try Gallery()
        #expect(try status(gallery).precision == "int8")
        let before = try gallery.get("/api/search?q=a+cat&top=3")
        #expect(before.status == 200)
        let replaced = try CommandRunner.run(["index", gallery.photos, "--db", gallery.database, "--model", ServeTests.model,
                                              "--precision", "fp32", "--replace-model"])
        #expect(replaced.status == 0, "\(replaced.standardError)")
        #expect(try status(gallery).precision == "fp32")
        let after = try JSONDecoder().decode(Results.self, from: Data(try gallery.get("/api/search?q=a+cat&top=3").body))
        #expect(after.results.count == 3)
        // As a stopped replacing run leaves it: some photos without embeddings, said.
        #expect(try (status(gallery).photos, status(gallery).embedded) == (6, 6))
        _ = try CommandRunner.sqlite(gallery.database, "DELETE FROM embeddings WHERE id IN (SELECT id FROM embeddings LIMIT 2)")
        #expect(try (status(gallery).photos, status(gallery).embedded) == (6, 4))
        // Rebuilt with a model other than the server's: 409, saying what to do.
        let other = CommandRunner.fixture("models/oc-vit-quickgelu-p8")
        #expect(try CommandRunner.run(["index", gallery.photos, "--db", gallery.database, "--model", other, "--replace-model"]).status == 0)
        let mismatch = try gallery.get("/api/search?q=a+cat")
        #expect(mismatch.status == 409 && reason(mismatch).contains("--replace-model"), "\(mismatch.text)")
    }

    // MARK: Helpers

    /// Three new clients in turn, each answered 200 within the guard (60 s
    /// without a byte) while `situation` holds.
    func expectNewClientsAnswered(_ gallery: Gallery, while situation: String) throws {
        for _ in 0..<3 {
            let client = try LoopbackConnection(port: gallery.port, sending: Array("GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8))
            guard expectAnsweredOK(client, "a new client while \(situation)") else { break }
        }
    }

    /// Whether `connection` was answered and closed within the guard; a 200 is expected.
    @discardableResult
    func expectAnsweredOK(_ connection: LoopbackConnection, _ who: String) -> Bool {
        guard case let .closed(answer) = connection.readToEnd(guardSeconds: 60) else {
            Issue.record("\(who) was not answered")
            return false
        }
        #expect(String(decoding: answer.prefix(12), as: UTF8.self) == "HTTP/1.1 200", "\(who): \(String(decoding: answer.prefix(100), as: UTF8.self))")
        return true
    }

    /// A copy of the test model whose token embedding for `token` is NaN.
    func nanTokenModel(into folder: TemporaryDirectory, token: Int) throws -> String {
        let model = folder.file("model")
        try FileManager.default.copyItem(atPath: ServeTests.model, toPath: model)
        let weights = model + "/open_clip_model.safetensors"
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: weights)))
        let headerLength = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        struct Entry: Decodable { let shape: [Int]?; let data_offsets: [Int]? }
        let header = try JSONDecoder().decode([String: Entry].self, from: Data(bytes[8..<(8 + headerLength)]))
        let entry = try #require(header["token_embedding.weight"])
        let width = try #require(entry.shape?.last), start = 8 + headerLength + (try #require(entry.data_offsets?.first)) + token * width * 4
        for offset in stride(from: start, to: start + width * 4, by: 4) {
            bytes.replaceSubrange(offset..<(offset + 4), with: [0x00, 0x00, 0xC0, 0x7F])
        }
        try Data(bytes).write(to: URL(fileURLWithPath: weights))
        return model
    }

    func cpuSeconds(_ pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return 0 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // utime and stime, fields 14 and 15 of the line (11 and 12 after the name).
        return (Double(fields[11]) ?? 0) / 100 + (Double(fields[12]) ?? 0) / 100
    }

    func peakResidentBytes(_ pid: Int32) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return Int.max }
        return (Int(line.split(separator: " ")[1]) ?? 0) * 1024
    }
}

extension ServeTests.Gallery {
    /// A server on an index and model of the caller's.
    static func attach(database: String, model: String) throws -> Attached {
        try Attached(database: database, model: model)
    }

    final class Attached {
        let server: ChildProcess
        let port: Int

        init(database: String, model: String) throws {
            server = try ChildProcess(["serve", "--db", database, "--model", model, "--port", "0"])
            guard let line = server.waitForLine(where: { $0.hasPrefix("photosearch: serving ") }),
                  let port = line.split(separator: " ").dropFirst(2).first.flatMap({ URL(string: String($0))?.port }) else {
                throw TestFailure("the server did not start: \(server.finish().standardError)")
            }
            self.port = port
        }

        func get(_ target: String) throws -> HTTPAnswer {
            try HTTPAnswer.request(port: port, method: "GET", target: target)
        }

        deinit {
            server.signal(SIGKILL)
            _ = server.finish()
        }
    }
}
