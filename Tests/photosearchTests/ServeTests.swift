import Foundation
import Testing
import Synchronization
import TestSupport

/// `photosearch serve` as a real child process on 127.0.0.1, spoken to over
/// real sockets: every route against the command line, the token,
/// concurrent clients, a re-index while serving, a clean stop. (Bad input
/// and path tricks, route by route: PhotoServerTests, in process.)
@Suite("photosearch serve: the web gallery's API", .serialized)
struct ServeTests {
    static let model = CommandRunner.fixture("models/oc-vit-gelu-p16")

    /// An indexed folder of fixture photos and a server on it.
    final class Gallery {
        let root: URL
        var server: ChildProcess
        var port: Int
        var address: String
        var photos: String { root.appendingPathComponent("photos").path }
        var database: String { root.appendingPathComponent("index.sqlite").path }

        /// `launcher`: a program and its arguments that start photosearch
        /// (prlimit, to run it with fewer descriptors).
        /// `copies`: that many more photos, distinct JPEGs (one fixture with
        /// a unique comment each).
        init(arguments: [String] = [], launcher: [String] = [], photos extra: [(String, String)] = [],
             model: String = ServeTests.model, copies: Int = 0, environment: [String: String] = [:]) throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("photosearch-serve-\(UUID().uuidString)")
            let photos = root.appendingPathComponent("photos")
            try FileManager.default.createDirectory(at: photos, withIntermediateDirectories: true)
            for (name, source) in [("cat.png", "chelsea.png"), ("rocket.jpg", "rocket.jpg"), ("coffee.jpg", "coffee-portrait.jpg"),
                                   ("camera.png", "camera.png"), ("astronaut.jpg", "astronaut-progressive.jpg"), ("cat.heic", "coffee.heic")] + extra {
                try FileManager.default.copyItem(atPath: CommandRunner.fixture("photos/" + source), toPath: photos.appendingPathComponent(name).path)
            }
            if copies > 0 {
                let folder = try makePhotoFolder(count: copies)
                defer { try? FileManager.default.removeItem(at: folder) }
                for name in try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("photos").path) {
                    try FileManager.default.moveItem(at: folder.appendingPathComponent("photos/" + name), to: photos.appendingPathComponent(name))
                }
            }
            let indexed = try CommandRunner.run(["index", photos.path, "--db", root.appendingPathComponent("index.sqlite").path, "--model", model])
            precondition(indexed.status == 0, indexed.standardError)
            (server, address, port) = try Self.start(root: root, model: model, arguments: arguments, launcher: launcher, environment: environment)
        }

        /// `photosearch serve` on the index in `root` (tokens kept under
        /// `root/state`), once it says where it serves.
        static func start(root: URL, model: String = ServeTests.model, arguments: [String], launcher: [String] = [],
                          environment: [String: String] = [:]) throws -> (server: ChildProcess, address: String, port: Int) {
            let server = try ChildProcess(["serve", "--db", root.appendingPathComponent("index.sqlite").path, "--model", model,
                                           "--port", "0"] + arguments, launcher: launcher,
                                          environment: environment.merging(["XDG_STATE_HOME": root.appendingPathComponent("state").path]) { $1 })
            guard let line = server.waitForLine(where: { $0.hasPrefix("photosearch: serving ") }),
                  let url = line.split(separator: " ").dropFirst(2).first.map(String.init),
                  let port = URL(string: url)?.port else {
                let ended = server.finish()
                throw TestFailure("the server did not start: \(ended.standardError)")
            }
            return (server, url, port)
        }

        func get(_ target: String, headers: [String: String] = [:]) throws -> HTTPAnswer {
            try HTTPAnswer.request(port: port, method: "GET", target: target, headers: headers)
        }

        /// Headless Chromium on the page at `target` with `options`
        /// (`--dump-dom`, `--screenshot=…`); --virtual-time-budget runs the
        /// page's scripts and fetches to quiet first (no sleeping).
        func browser(_ target: String, _ options: [String]) throws -> CommandRunner.Result {
            let flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=20000",
                         "--user-data-dir=" + root.appendingPathComponent("chromium").path]
            return try CommandRunner.run(executable: ServeTests.chromium, flags + options + ["http://127.0.0.1:\(port)" + target])
        }

        func post(_ target: String, body: [UInt8]) throws -> HTTPAnswer {
            try HTTPAnswer.request(port: port, method: "POST", target: target, body: body)
        }

        deinit {
            server.signal(SIGKILL)
            _ = server.finish()
            try? FileManager.default.removeItem(at: root)
        }
    }

    static let chromium = URL(fileURLWithPath: "/usr/bin/chromium")

    /// The result tiles of a dumped page (`<li …>` onwards each) and their photo ids.
    static func tiles(_ dom: String) -> (tiles: [Substring], ids: [Int64]) {
        let tiles = Array(dom.components(separatedBy: "<li ").dropFirst().filter { $0.contains("data-id=") && !$0.hasPrefix("class=\"month\"") && !$0.hasPrefix("class=\"fold\"") }.map { Substring($0) })
        return (tiles, tiles.compactMap { tile in tile.components(separatedBy: "data-id=\"").dropFirst().first.flatMap { Int64($0.prefix { $0 != "\"" }) } })
    }

    struct Results: Decodable {
        struct Hit: Decodable {
            let id: Int64
            let path: String
            let score: Float
            let weaker: Bool
            let taken_at: String?
            let width: Int?
            let height: Int?
            let thumbnail: String
            let file: String
        }
        let results: [Hit]
        let took_ms: Double
    }

    struct ErrorBody: Decodable { let error: String }

    /// The results a page shows before "show weaker matches": those before
    /// the first weaker one, or all when even the best is weaker.
    static func shownFirst<Hit>(_ hits: [Hit], weaker: (Hit) -> Bool) -> [Hit] {
        guard let first = hits.first, !weaker(first) else { return hits }
        return Array(hits.prefix { !weaker($0) })
    }

    func results(_ answer: HTTPAnswer) throws -> Results {
        #expect(answer.status == 200, "\(answer.text)")
        return try JSONDecoder().decode(Results.self, from: Data(answer.body))
    }

    func error(_ answer: HTTPAnswer) -> String? {
        #expect(answer.header("content-type") == "application/json; charset=utf-8")
        return try? JSONDecoder().decode(ErrorBody.self, from: Data(answer.body)).error
    }

    @Test("status, search, sort, similar, photo, thumbnail, file and search by image answer as the CLI does")
    func routes() throws {
        let gallery = try Gallery()
        struct Status: Decodable {
            let photos: Int; let failed: Int; let model: String?; let precision: String?
            struct Run: Decodable { let status: String; let added: Int }
            let last_run: Run?
        }
        let status = try JSONDecoder().decode(Status.self, from: Data(try gallery.get("/api/status").body))
        #expect(status.photos == 6 && status.failed == 0)
        #expect(status.model == "oc-vit-gelu-p16" && status.precision == "int8")
        #expect(status.last_run?.status == "completed" && status.last_run?.added == 6)
        #expect(try gallery.get("/api/status").text.contains(#""indexing":null"#))

        // The same ranking and scores as the command line.
        let found = try results(try gallery.get("/api/search?q=a%20cat%20on%20a%20sofa&top=4"))
        let cli = try CommandRunner.run(["search", "a cat on a sofa", "--top", "4", "--json", "--db", gallery.database, "--model", Self.model])
        struct Line: Decodable { let path: String; let score: Float }
        let lines = try cli.standardOutput.split(separator: "\n").map { try JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
        #expect(found.results.map(\.path) == lines.map(\.path))
        #expect(zip(found.results, lines).allSatisfy { abs($0.score - $1.score) < 1e-5 })
        #expect(found.results.allSatisfy { $0.thumbnail == "/api/photos/\($0.id)/thumbnail" && $0.file == "/api/photos/\($0.id)/file" })
        #expect(found.results.allSatisfy { $0.width != nil && $0.height != nil })

        // sort=date: the same photos, newest first.
        let dated = try results(try gallery.get("/api/search?q=a%20cat%20on%20a%20sofa&top=4&sort=date"))
        #expect(Set(dated.results.map(\.id)) == Set(found.results.map(\.id)))
        let dates = dated.results.compactMap(\.taken_at)
        #expect(dates == dates.sorted(by: >))

        // Form encoding, as the page sends it: + is a space.
        #expect(try results(try gallery.get("/api/search?q=a+cat+on+a+sofa&top=4")).results.map(\.id) == found.results.map(\.id))
        // A Unicode query, percent-encoded as a browser sends it.
        #expect(try gallery.get("/api/search?q=%E6%B5%B7%E8%BE%B9%E7%9A%84%E6%97%A5%E8%90%BD").status == 200)

        // Similar to a photo: itself left out.
        let first = found.results[0]
        let similar = try results(try gallery.get("/api/similar/\(first.id)?top=10"))
        #expect(similar.results.count == 5 && !similar.results.contains { $0.id == first.id })

        // Details, thumbnail, file.
        struct Photo: Decodable { let id: Int64; let path: String; let size: Int64; let width: Int?; let height: Int? }
        let details = try JSONDecoder().decode(Photo.self, from: Data(try gallery.get("/api/photos/\(first.id)").body))
        #expect(details.id == first.id && details.path == first.path)
        let thumbnail = try gallery.get(first.thumbnail)
        #expect(thumbnail.status == 200 && thumbnail.header("content-type") == "image/jpeg")
        #expect(Array(thumbnail.body.prefix(3)) == [0xFF, 0xD8, 0xFF])
        let file = try gallery.get(first.file)
        #expect(file.status == 200)
        #expect(file.body == Array(try Data(contentsOf: URL(fileURLWithPath: first.path))))
        // HEIF, which browsers cannot show, comes as a JPEG rendering.
        let all = try results(try gallery.get("/api/search?q=anything&top=10"))
        let heic = try #require(all.results.first { $0.path.hasSuffix(".heic") })
        let rendered = try gallery.get(heic.file)
        #expect(rendered.header("content-type") == "image/jpeg" && Array(rendered.body.prefix(2)) == [0xFF, 0xD8])

        // Search by an uploaded photo: the same photo, indexed, comes first.
        let upload = Array(try Data(contentsOf: URL(fileURLWithPath: CommandRunner.fixture("photos/chelsea.png"))))
        let byImage = try results(try gallery.post("/api/search/image?top=3", body: upload))
        #expect(byImage.results.first?.path == gallery.photos + "/cat.png")
        #expect((byImage.results.first?.score ?? 0) > 0.999)

        // The page and its assets, with a policy that runs only our own scripts.
        let page = try gallery.get("/")
        #expect(page.status == 200 && page.text.contains(#"<script src="/app.js" defer></script>"#))
        #expect(page.header("content-security-policy")?.contains("script-src 'self'") == true)
        #expect(try gallery.get("/app.js").header("content-type") == "text/javascript; charset=utf-8")
        #expect(try gallery.get("/api/status").header("x-content-type-options") == "nosniff")
    }

    @Test("with a token: 401 without it; the Bearer header, or the cookie the printed address sets, lets clients in")
    func token() throws {
        let token = "0123456789abcdef0123"
        let gallery = try Gallery(arguments: ["--token", token])
        #expect(gallery.address == "http://127.0.0.1:\(gallery.port)/?token=\(token)")
        for target in ["/", "/api/status", "/api/search?q=cat", "/api/photos/1/thumbnail", "/app.js"] {
            let refused = try gallery.get(target)
            #expect(refused.status == 401, "\(target)")
            #expect(error(refused)?.contains("needs its token") == true)
        }
        #expect(try gallery.get("/api/status", headers: ["Authorization": "Bearer wrong-token-000000"]).status == 401)
        #expect(try gallery.get("/api/status", headers: ["Authorization": "Bearer \(token)"]).status == 200)
        let opened = try gallery.get("/?token=\(token)")
        #expect(opened.status == 303 && opened.header("location") == "/")
        let cookie = try #require(opened.header("set-cookie"))
        #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"))
        let pair = String(cookie.split(separator: ";")[0])
        #expect(try gallery.get("/api/search?q=cat", headers: ["Cookie": pair]).status == 200)
        #expect(try gallery.get("/?token=nope").status == 401)
    }

    @Test("--host 0.0.0.0 or ::: it prints this computer's addresses (hostname -I's), loopback last, and each one serves the page",
          arguments: ["0.0.0.0", "::"])
    func everyInterface(host: String) throws {
        let gallery = try Gallery(arguments: ["--host", host])
        var lines = [try #require(gallery.server.lines.last)]
        while lines.last?.hasSuffix("(this computer)") != true {
            lines.append(try #require(gallery.server.waitForLine { _ in true }, "\(lines)"))
        }
        let token = try #require(gallery.address.split(separator: "=").last.map(String.init))
        #expect(token.count == 32, "a token is made for a server other devices reach")
        let addresses = try lines.enumerated().map { index, line in
            let prefix = index == 0 ? "photosearch: serving " : "photosearch: also "
            #expect(line.hasPrefix(prefix), "\(line)")
            let url = try #require(URL(string: String(line.dropFirst(prefix.count).split(separator: " ")[0])))
            #expect(url.port == gallery.port && url.query == "token=\(token)" && url.path == "/", "\(line)")
            return try #require(url.host(percentEncoded: false))
        }
        #expect(addresses.last == (host == "::" && Self.bindsIPv6Only ? "::1" : "127.0.0.1"))
        // hostname(1) -I: every address of every interface but loopback and link-local IPv6 ones.
        let listed = try CommandRunner.run(executable: URL(fileURLWithPath: "/usr/bin/hostname"), ["-I"])
        let expected = listed.standardOutput.split(whereSeparator: \.isWhitespace).map(String.init)
            .filter { host == "::" ? ($0.contains(":") || !Self.bindsIPv6Only) : !$0.contains(":") }
        #expect(Set(addresses.dropLast()) == Set(expected) && addresses.count == expected.count + 1, "\(lines) against \(expected)")
        for address in addresses {
            let bracketed = address.contains(":") ? "[\(address)]" : address
            let answer = try HTTPAnswer.request(host: bracketed, port: gallery.port, method: "GET", target: "/api/status",
                                                headers: ["Authorization": "Bearer \(token)"])
            #expect(answer.status == 200, "\(address): \(answer.text)")
        }
    }

    @Test("--host 0.0.0.0 without --token: the token kept for the index lets its devices in after a restart; --new-token replaces it, and the old one is refused")
    func keptToken() throws {
        let gallery = try Gallery(arguments: ["--host", "0.0.0.0"])
        func token(_ address: String) throws -> String { try #require(address.split(separator: "=").last.map(String.init)) }
        let first = try token(gallery.address)
        let opened = try gallery.get("/?token=\(first)")
        let cookie = try #require(opened.header("set-cookie")?.split(separator: ";").first.map(String.init))
        let kept = try FileManager.default.contentsOfDirectory(atPath: gallery.root.appendingPathComponent("state/photosearch/tokens").path)
        #expect(kept.count == 1 && kept[0].hasSuffix(".json"))

        func restart(_ arguments: [String]) throws {
            gallery.server.signal(SIGTERM)
            #expect(gallery.server.finish().status == 0)
            (gallery.server, gallery.address, gallery.port) = try Gallery.start(root: gallery.root, arguments: ["--host", "0.0.0.0"] + arguments)
        }
        try restart([])
        #expect(try token(gallery.address) == first)
        #expect(try gallery.get("/api/status", headers: ["Cookie": cookie]).status == 200, "the cookie a device holds still opens it")

        try restart(["--new-token"])
        let second = try token(gallery.address)
        #expect(second != first && second.count == 32)
        #expect(try gallery.get("/api/status", headers: ["Cookie": cookie]).status == 401)
        #expect(try gallery.get("/api/status", headers: ["Authorization": "Bearer \(second)"]).status == 200)
        try restart([])
        #expect(try token(gallery.address) == second, "the new token is the one kept")

        // Where no token can be kept: a token of this run; but a token to
        // revoke that cannot be replaced is an error (it would come back).
        let nowhere = ["XDG_STATE_HOME": gallery.database]     // a file: no folder can be made under it
        let revoke = try CommandRunner.run(["serve", "--db", gallery.database, "--model", Self.model, "--port", "0", "--host", "0.0.0.0",
                                            "--new-token"], environment: nowhere)
        #expect(revoke.status == 1 && revoke.standardError.hasPrefix("photosearch: error: cannot keep the token in \(gallery.database)/photosearch/tokens"),
                "\(revoke.standardError)")
    }

    static var bindsIPv6Only: Bool {
        (try? String(contentsOfFile: "/proc/sys/net/ipv6/bindv6only", encoding: .utf8))?.hasPrefix("1") == true
    }

    @Test("8 clients × 25 searches at once all succeed with the same answers; a re-index in another process shows without a restart")
    func concurrencyAndReindex() throws {
        let gallery = try Gallery()
        let expected = try results(try gallery.get("/api/search?q=a%20rocket&top=5")).results.map(\.id)
        let failures = Mutex<[String]>([])
        let port = gallery.port
        DispatchQueue.concurrentPerform(iterations: 8) { client in
            for round in 0..<25 {
                do {
                    let answer = try HTTPAnswer.request(port: port, method: "GET", target: "/api/search?q=a%20rocket&top=5")
                    let ids = try JSONDecoder().decode(Results.self, from: Data(answer.body)).results.map(\.id)
                    if answer.status != 200 || ids != expected { failures.withLock { $0.append("client \(client) round \(round): \(answer.status)") } }
                } catch {
                    failures.withLock { $0.append("client \(client) round \(round): \(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        // A new photo, indexed by another process while the server runs.
        try FileManager.default.copyItem(atPath: CommandRunner.fixture("photos/chelsea-orientation-6.jpg"), toPath: gallery.photos + "/new.jpg")
        let indexed = try CommandRunner.run(["index", gallery.photos, "--db", gallery.database, "--model", Self.model])
        #expect(indexed.status == 0)
        let after = try results(try gallery.get("/api/search?q=anything&top=20"))
        #expect(after.results.count == 7 && after.results.contains { $0.path == gallery.photos + "/new.jpg" })
        #expect(try gallery.get("/api/photos/\(after.results.first { $0.path.hasSuffix("new.jpg") }!.id)/thumbnail").status == 200)
    }

    @Test("a vector file changed in place under a running server (a backup copied over it, cut short or its cells rewritten) is opened again: no crash, the same answers",
          arguments: [[:], ["PHOTOSEARCH_PARTITION_FROM": "4"]])
    func vectorFileChangedInPlace(layout: [String: String]) throws {
        let gallery = try Gallery(copies: 41, environment: layout)
        let search = "/api/search?q=a%20rocket&top=8"
        let expected = try results(try gallery.get(search)).results.map(\.id)
        #expect(expected.count == 8)
        let vectors = gallery.database + ".vectors"
        func changeInPlace(_ change: (FileHandle, Int) throws -> Void) throws {
            let size = try #require(try FileManager.default.attributesOfItem(atPath: vectors)[.size] as? Int)
            let file = try #require(FileHandle(forUpdatingAtPath: vectors))
            try change(file, size)
            try file.close()
        }
        // Cut to half its length, as `cp` truncates before it writes: the
        // old mapping's second half is gone (SIGBUS when read).
        try changeInPlace { file, size in try file.truncate(atOffset: UInt64(size / 2)) }
        let afterCut = try gallery.get(search)
        #expect(afterCut.status == 200)
        #expect(try results(afterCut).results.map(\.id) == expected)
        // The file written again by that search, then its cell table (or,
        // not partitioned, its first rows' ids) overwritten in place, same
        // size, as another index's file copied over it would.
        let capacity = try FileHandle(forReadingFrom: URL(fileURLWithPath: vectors)).readData(ofLength: 128)
            .withUnsafeBytes { Int($0.loadUnaligned(fromByteOffset: 96, as: UInt64.self)) }
        try changeInPlace { file, _ in
            try file.seek(toOffset: UInt64(128 + capacity * 20))
            try file.write(contentsOf: [0, 1 << 40, 1 << 41, UInt64.max].flatMap { withUnsafeBytes(of: UInt64($0).littleEndian, Array.init) })
        }
        let afterRewrite = try gallery.get(search)
        #expect(afterRewrite.status == 200)
        #expect(try results(afterRewrite).results.map(\.id) == expected)
        #expect(try gallery.get("/api/status").status == 200)
    }

    @Test("thumbnails are made while indexing, at most 512 px, upright, and leave with their photo; --sort date orders the CLI too")
    func thumbnails() throws {
        let gallery = try Gallery()
        func sql(_ query: String) throws -> String { try CommandRunner.sqlite(gallery.database, query) }
        #expect(try sql("SELECT COUNT(*) FROM thumbnails") == "6")
        #expect(try sql("SELECT COUNT(*) FROM thumbnails WHERE length(jpeg) > 60000 OR hex(substr(jpeg, 1, 3)) != 'FFD8FF'") == "0")
        // The EXIF-rotated photo's thumbnail is upright: taller than wide, like the photo turned.
        try FileManager.default.copyItem(atPath: CommandRunner.fixture("photos/chelsea-orientation-6.jpg"), toPath: gallery.photos + "/turned.jpg")
        #expect(try CommandRunner.run(["index", gallery.photos, "--db", gallery.database, "--model", Self.model]).status == 0)
        let id = try sql("SELECT id FROM photos WHERE path LIKE '%turned.jpg'")
        let thumbnail = try gallery.get("/api/photos/\(id)/thumbnail")
        let size = try #require(JPEGSize.of(thumbnail.body))
        struct Photo: Decodable { let width: Int; let height: Int }
        let photo = try JSONDecoder().decode(Photo.self, from: Data(try gallery.get("/api/photos/\(id)").body))
        #expect(max(size.width, size.height) <= 512)
        #expect((size.width < size.height) == (photo.width < photo.height))
        // A deleted photo's thumbnail goes with it.
        try FileManager.default.removeItem(atPath: gallery.photos + "/turned.jpg")
        #expect(try CommandRunner.run(["index", gallery.photos, "--db", gallery.database, "--model", Self.model]).status == 0)
        #expect(try sql("SELECT COUNT(*) FROM thumbnails") == "6")
        #expect(try gallery.get("/api/photos/\(id)/thumbnail").status == 404)
        // An index made before thumbnails: made on first request, then kept.
        _ = try sql("DELETE FROM thumbnails")
        let first = try results(try gallery.get("/api/search?q=anything&top=1")).results[0]
        #expect(try gallery.get(first.thumbnail).status == 200)
        #expect(try sql("SELECT COUNT(*) FROM thumbnails") == "1")

        let sorted = try CommandRunner.run(["search", "anything", "--top", "6", "--sort", "date", "--json", "--db", gallery.database, "--model", Self.model])
        struct Line: Decodable { let taken_at: String? }
        let dates = try sorted.standardOutput.split(separator: "\n").map { try JSONDecoder().decode(Line.self, from: Data($0.utf8)) }.compactMap(\.taken_at)
        #expect(!dates.isEmpty && dates == dates.sorted(by: >))
    }

    @Test("the page in a real browser (headless chromium): /?q=… shows the API's results, in order, as thumbnails")
    func browser() throws {
        let gallery = try Gallery()
        let expected = Self.shownFirst(try results(try gallery.get("/api/search?q=a%20cat%20on%20a%20sofa&top=50")).results) { $0.weaker }.map(\.id)
        #expect(FileManager.default.isExecutableFile(atPath: Self.chromium.path), "chromium is not installed: run scripts/install-dependencies.sh")
        let page = "/?q=a+cat+on+a+sofa"
        let dump = try gallery.browser(page, ["--dump-dom"])
        #expect(dump.status == 0, "\(dump.standardError)")
        let ids = dump.standardOutput.components(separatedBy: "data-id=\"").dropFirst().compactMap { Int64($0.prefix { $0 != "\"" }) }
        #expect(ids == expected, "\(dump.standardOutput)")
        #expect(dump.standardOutput.contains("6 photos indexed"))
        // An English-only model: the box suggests English alone.
        #expect(dump.standardOutput.contains(#"placeholder="Describe a photo — a dog on the beach at sunset — or name:IMG_10*"#))
        #expect(dump.standardOutput.components(separatedBy: "src=\"/api/photos/").count - 1 >= expected.count)
        // And a picture of it.
        let shot = gallery.root.appendingPathComponent("gallery.png").path
        let screenshot = try gallery.browser(page, ["--window-size=1280,720", "--screenshot=" + shot])
        #expect(screenshot.status == 0)
        let png = Array(try Data(contentsOf: URL(fileURLWithPath: shot)))
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] && png.count > 20_000)
    }

    @Test("places in a real browser: /?q=…&place=… shows only photos taken there, each tile titled with its place; the filter suggests places")
    func browserPlaces() throws {
        let gallery = try Gallery(photos: [("lisbon.jpg", "places/lisbon.jpg"), ("porto.jpg", "places/porto.jpg"),
                                           ("tokyo.jpg", "places/tokyo.jpg")])
        let expected = Self.shownFirst(try results(try gallery.get("/api/search?q=a%20photo&place=Portugal&top=50")).results) { $0.weaker }.map(\.id)
        #expect(!expected.isEmpty)
        let dump = try gallery.browser("/?q=a+photo&place=Portugal", ["--dump-dom"])
        #expect(dump.status == 0, "\(dump.standardError)")
        let (tiles, ids) = Self.tiles(dump.standardOutput)
        #expect(ids == expected, "\(dump.standardOutput)")
        #expect(tiles.allSatisfy { $0.contains(#"title="Lisbon, Portugal""#) || $0.contains(#"title="Porto, Portugal""#) })
        // The filter is open and filled in; its suggestions are the places photos were taken in.
        #expect(dump.standardOutput.contains(#"<details id="filters" open"#))
        for name in ["Portugal", "Lisbon", "Porto", "Japan", "Tokyo"] {
            #expect(dump.standardOutput.contains(#"<option value="\#(name)">"#), "\(name)")
        }
        // A photo in the address opens large over its results: a human date,
        // download, and previous/next where there are some.
        struct Named: Decodable { struct Hit: Decodable { let id: Int64; let path: String }; let results: [Hit] }
        let named = try JSONDecoder().decode(Named.self, from: Data(try gallery.get("/api/search?q=a%20photo&place=Portugal&top=50").body)).results
        let porto = try #require(named.firstIndex { $0.path.hasSuffix("/porto.jpg") })
        let viewer = try gallery.browser("/?q=a+photo&place=Portugal&photo=\(named[porto].id)", ["--dump-dom"]).standardOutput
        #expect(viewer.contains(#"<div id="viewer" role="dialog" aria-modal="true" aria-label="Photo">"#), "open, not hidden")
        #expect(viewer.contains(#"<img id="large" alt="\#(gallery.photos)/porto.jpg" src="/api/photos/\#(named[porto].id)/file">"#), "\(viewer)")
        #expect(viewer.contains(#"<a id="download" download="porto.jpg" href="/api/photos/\#(named[porto].id)/file">"#))
        #expect(viewer.contains("<dd>Sat 15 Jun 2019, 18:02</dd>"))
        #expect(viewer.contains(porto == 0 ? #"<button id="previous" aria-label="Previous photo" disabled="">"# : #"<button id="next" aria-label="Next photo" disabled="">"#))
    }

    @Test("the start page in a real browser is the timeline: every photo newest first under its month, with the filters in the address")
    func browserTimeline() throws {
        let gallery = try Gallery(photos: [("lisbon.jpg", "places/lisbon.jpg"), ("porto.jpg", "places/porto.jpg"),
                                           ("tokyo.jpg", "places/tokyo.jpg")])
        struct Page: Decodable { struct Hit: Decodable { let id: Int64; let taken_at: String }; let results: [Hit] }
        let names = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
        for (page, api) in [("/", "/api/timeline"), ("/?place=Portugal", "/api/timeline?place=Portugal")] {
            let expected = try JSONDecoder().decode(Page.self, from: Data(try gallery.get(api).body)).results
            let dump = try gallery.browser(page, ["--dump-dom"])
            #expect(dump.status == 0, "\(dump.standardError)")
            #expect(Self.tiles(dump.standardOutput).ids == expected.map(\.id), "\(dump.standardOutput)")
            // A heading where the month changes.
            var months: [String] = []
            for hit in expected {
                let month = names[Int(hit.taken_at.dropFirst(5).prefix(2))! - 1] + " " + hit.taken_at.prefix(4)
                if months.last != month { months.append(month) }
            }
            let headings = dump.standardOutput.matches(of: /<li class="month" role="heading">([^<]*)<\/li>/).map { String($0.1) }
            #expect(headings == months, "\(page)")
            #expect(page == "/" ? headings.suffix(2) == ["April 2023", "June 2019"] && expected.count > 3 : headings == ["June 2019"] && expected.count == 2)
        }
        // Photos like one have an address of their own, with the filters on screen.
        let all = try JSONDecoder().decode(Page.self, from: Data(try gallery.get("/api/timeline").body)).results
        let tokyo = all[all.count - 3].id   // April 2023, before June 2019's two
        let similar = try JSONDecoder().decode(Page.self, from: Data(try gallery.get("/api/similar/\(tokyo)?place=Portugal&top=50").body)).results
        #expect(similar.count == 2)
        let dump = try gallery.browser("/?similar=\(tokyo)&place=Portugal", ["--dump-dom"])
        #expect(Self.tiles(dump.standardOutput).ids == similar.map(\.id), "\(dump.standardOutput)")
        #expect(dump.standardOutput.matches(of: /<li class="month"/).isEmpty, "ranked, not a timeline")
    }

    @Test("the timeline loads its next page when the end of the grid comes into view (a window taller than 50 tiles)")
    func browserTimelinePages() throws {
        let gallery = try Gallery(copies: 70)
        struct Page: Decodable { struct Hit: Decodable { let id: Int64 }; let results: [Hit] }
        let expected = try JSONDecoder().decode(Page.self, from: Data(try gallery.get("/api/timeline?top=200").body)).results.map(\.id)
        #expect(expected.count == 76)
        let short = try gallery.browser("/", ["--window-size=1280,700", "--dump-dom"])
        #expect(Self.tiles(short.standardOutput).ids == Array(expected.prefix(50)), "one page while its end is out of view")
        let tall = try gallery.browser("/", ["--window-size=1280,40000", "--dump-dom"])
        #expect(tall.status == 0, "\(tall.standardError)")
        #expect(Self.tiles(tall.standardOutput).ids == expected, "\(Self.tiles(tall.standardOutput).ids.count) tiles")
    }

    struct ProbableResults: Decodable {
        struct Hit: Decodable { let id: Int64; let probability: Float?; let weaker: Bool }
        let results: [Hit]
    }

    @Test("SigLIP 2 in a real browser: a Chinese query's tiles show match probabilities; below 50 % they are weaker matches")
    func browserProbabilities() throws {
        let gallery = try Gallery(model: CommandRunner.fixture("models/siglip2-p8"))
        let query = "%E6%B5%B7%E8%BE%B9%E7%9A%84%E6%97%A5%E8%90%BD"
        let answer = try gallery.get("/api/search?q=\(query)&top=50")
        let expected = try JSONDecoder().decode(ProbableResults.self, from: Data(answer.body)).results
        #expect(expected.count == 6 && expected.allSatisfy { $0.probability != nil })
        #expect(expected.allSatisfy { $0.weaker == ($0.probability! < 0.5) })
        let shown = Self.shownFirst(expected) { $0.weaker }
        let dump = try gallery.browser("/?q=\(query)", ["--dump-dom"])
        #expect(dump.status == 0, "\(dump.standardError)")
        let (tiles, ids) = Self.tiles(dump.standardOutput)
        #expect(ids == shown.map(\.id), "\(dump.standardOutput)")
        // A multilingual model: the box suggests Chinese and German too.
        #expect(dump.standardOutput.contains(#"placeholder="Describe a photo — a dog on the beach at sunset, 海边的日落, Hund am Strand — "#))
        #expect(tiles.filter { $0.contains(#"class="weaker""#) }.count == shown.filter(\.weaker).count)
        let likely = expected.filter { !$0.weaker }.count
        #expect(dump.standardOutput.contains(likely == 0 ? ">No photo is likely to match; the closest of 6 photos first</p>"
                                                        : ">\(likely) likely match\(likely == 1 ? "" : "es") among 6 photos"), "\(dump.standardOutput)")
        for (tile, hit) in zip(tiles, shown) {
            #expect(tile.contains(">\(Int((hit.probability! * 100).rounded())) %<"), "\(tile)")
        }
    }

    @Test("--index with --every: the server indexes the folder itself, its progress in /api/status, new photos searchable at once")
    func scheduledIndexing() throws {
        let folder = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: folder.file("photos"), withIntermediateDirectories: true)
        for name in ["chelsea.png", "rocket.jpg", "camera.png"] {
            try FileManager.default.copyItem(atPath: CommandRunner.fixture("photos/" + name), toPath: folder.file("photos/" + name))
        }
        let server = try ChildProcess(["serve", "--db", folder.file("index.sqlite"), "--model", Self.model, "--port", "0",
                                       "--index", folder.file("photos"), "--every", "1h"])
        defer { server.signal(SIGKILL); _ = server.finish() }
        let line = try #require(server.waitForLine { $0.hasPrefix("photosearch: serving ") })
        let port = try #require(URL(string: String(line.split(separator: " ")[2]))?.port)
        let summary = server.waitForLine { $0.hasPrefix("photosearch: indexed ") }
        #expect(summary?.hasPrefix("photosearch: indexed 3 photos: 3 added, 0 updated, 0 unchanged, 0 moved, 0 removed, 0 failed in ") == true, "\(summary ?? "")")
        struct Status: Decodable {
            struct Indexing: Decodable { let state: String; let next_run_at: String? }
            let photos: Int
            let indexing: Indexing?
        }
        let status = try JSONDecoder().decode(Status.self, from: Data(try HTTPAnswer.request(port: port, method: "GET", target: "/api/status").body))
        #expect(status.photos == 3 && status.indexing?.state == "waiting")
        // A time with its zone, as last_run's (UTC, ISO 8601): an hour after the run.
        let next = try #require(status.indexing?.next_run_at.flatMap { ISO8601DateFormatter().date(from: $0) }, "\(status)")
        #expect(next.timeIntervalSinceNow > 3000 && next.timeIntervalSinceNow <= 3600, "\(next)")
        let found = try HTTPAnswer.request(port: port, method: "GET", target: "/api/search?q=a+rocket")
        #expect(found.status == 200 && found.text.contains("rocket.jpg"))
        // Between its runs, the index's writer lock is free for another indexer.
        #expect(try CommandRunner.run(["index", folder.file("photos"), "--db", folder.file("index.sqlite"), "--model", Self.model]).status == 0)
    }

    @Test("SIGTERM, SIGINT and SIGHUP stop it cleanly, exit 0")
    func stops() throws {
        for signal in [SIGTERM, SIGINT, SIGHUP] {
            let gallery = try Gallery()
            #expect(try gallery.get("/api/status").status == 200)
            gallery.server.signal(signal)
            let ended = gallery.server.finish()
            #expect(ended.status == 0 && ended.reason == .exit, "\(ended.standardError)")
        }
    }

    @Test("a port in use, or a bad option, is one line and a non-zero exit")
    func startErrors() throws {
        let gallery = try Gallery()
        let taken = try CommandRunner.run(["serve", "--db", gallery.database, "--port", "\(gallery.port)"])
        #expect(taken.status == 1)
        #expect(taken.standardError.hasPrefix("photosearch: error: cannot serve on 127.0.0.1:\(gallery.port)"), "\(taken.standardError)")
        let badPort = try CommandRunner.run(["serve", "--port", "70000"])
        #expect(badPort.status == 64 && badPort.standardError.contains("--port must be between 0 and 65535"))
        let shortToken = try CommandRunner.run(["serve", "--token", "abc"])
        #expect(shortToken.status == 64)
        let both = try CommandRunner.run(["serve", "--host", "0.0.0.0", "--token", "0123456789abcdef", "--new-token"])
        #expect(both.status == 64 && both.standardError.contains("--new-token replaces the kept token; --token gives one instead"))
        let loopback = try CommandRunner.run(["serve", "--new-token"])
        #expect(loopback.status == 64 && loopback.standardError.contains("on 127.0.0.1, none is asked for"))
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A baseline JPEG's size, from its SOF0 segment.
enum JPEGSize {
    static func of(_ bytes: [UInt8]) -> (width: Int, height: Int)? {
        var index = 2
        while index + 9 < bytes.count, bytes[index] == 0xFF {
            let marker = bytes[index + 1]
            let length = Int(bytes[index + 2]) << 8 | Int(bytes[index + 3])
            if marker == 0xC0 || marker == 0xC2 {
                return (Int(bytes[index + 7]) << 8 | Int(bytes[index + 8]), Int(bytes[index + 5]) << 8 | Int(bytes[index + 6]))
            }
            index += 2 + length
        }
        return nil
    }
}
