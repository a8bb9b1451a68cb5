import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PhotoIndex
import Testing
import TestSupport
@testable import PhotoServer

/// The gallery's routes in process, through Hummingbird's router test
/// framework (no sockets): what each answers to good and bad input, the
/// errors' shape, the token. `photosearchTests` runs the same server as a
/// real process on loopback (signals, slow clients, limits, re-indexing,
/// a browser).
@Suite("The gallery API, in process")
struct GalleryAPITests {
    static let model = FixtureFiles.path("models/oc-vit-gelu-p16")

    /// Fixture photos indexed with the fixture model, in a folder of their own.
    final class Indexed: Sendable {
        let root: String
        let library: PhotoLibrary
        var photos: String { root + "/photos" }

        init(model: String = GalleryAPITests.model) throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("photosearch-api-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: root + "/photos", withIntermediateDirectories: true)
            for (name, source) in [("cat.png", "chelsea.png"), ("rocket.jpg", "rocket.jpg"), ("coffee.jpg", "coffee-portrait.jpg"),
                                   ("camera.png", "camera.png"), ("cat.heic", "coffee.heic")] {
                try FileManager.default.copyItem(atPath: FixtureFiles.path("photos/" + source), toPath: root + "/photos/" + name)
            }
            library = PhotoLibrary(database: root + "/index.sqlite", model: model)
            _ = try library.index(IndexingOptions(roots: [root + "/photos"]))
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }
    }

    struct Results: Decodable {
        struct Hit: Decodable { let id: Int64; let path: String; let score: Float; let file: String }
        let results: [Hit]
    }

    struct ErrorBody: Decodable { let error: String }

    static func app(_ indexed: Indexed, token: String? = nil) -> some ApplicationProtocol {
        GalleryServer(api: GalleryAPI(library: indexed.library), configuration: .init(port: 0, token: token)).application()
    }

    static func error(_ response: TestResponse) -> String? {
        guard response.headers[.contentType] == "application/json; charset=utf-8" else { return nil }
        return try? JSONDecoder().decode(ErrorBody.self, from: Data(buffer: response.body)).error
    }

    @Test("bad input from strangers: a 400 or 404 with a JSON reason, never a 500, and no path reaches the disk")
    func badInput() async throws {
        let indexed = try Indexed()
        let cases: [(String, HTTPResponse.Status, String)] = [
            ("/api/search", .badRequest, "the query is empty"),
            ("/api/search?q=", .badRequest, "the query is empty"),
            ("/api/search?q=%20%20", .badRequest, "the query is empty"),
            // The library's limits, as the command line has them.
            ("/api/search?q=cat&top=0", .badRequest, "invalid top: 0 is not between 1 and \(PhotoLibrary.SearchOptions.maximumTop)"),
            ("/api/search?q=cat&top=\(PhotoLibrary.SearchOptions.maximumTop + 1)", .badRequest, "is not between 1 and"),
            ("/api/search?q=cat&top=abc", .badRequest, "top must be a whole number"),
            ("/api/search?q=cat&top=99999999999999999999", .badRequest, "top must be a whole number"),
            ("/api/search?q=cat&probes=0", .badRequest, "invalid probes: 0 is not between 1 and \(PhotoLibrary.SearchOptions.maximumProbes)"),
            ("/api/search?q=cat&probes=-3", .badRequest, "is not between 1 and"),
            ("/api/search?q=cat&probes=lots", .badRequest, "probes must be a whole number"),
            ("/api/search?q=cat&min_score=2", .badRequest, "invalid minimum score"),
            ("/api/search?q=cat&min_score=nan", .badRequest, "invalid minimum score"),
            ("/api/search?q=cat&min_score=x", .badRequest, "min_score must be a number"),
            ("/api/search?q=" + String(repeating: "a", count: SearchQuery.maximumBytes + 1), .badRequest,
             "more than \(SearchQuery.maximumBytes)"),
            ("/api/search?q=cat&after=2023-13", .badRequest, "invalid date"),
            ("/api/search?q=cat&before=yesterday", .badRequest, "invalid date"),
            ("/api/search?q=cat&sort=name", .badRequest, "sort must be score or date"),
            ("/api/search?q=cat&in=relative/folder", .badRequest, "in must be an absolute folder path"),
            ("/api/search?q=cat&top=1%zz", .badRequest, "the parameter top is not valid percent-encoding"),
            ("/api/search?q=cat&top=5&top=6", .badRequest, "the parameter top is given more than once"),
            ("/api/search?q=cat&q=dog", .badRequest, "the parameter q is given more than once"),
            ("/api/search?q=%22dog%22%20%2B", .badRequest, "malformed query"),
            // Image terms are refused whether or not the file exists (which is not looked at).
            ("/api/search?q=%2Fetc%2Fpasswd.jpg", .badRequest, "a query names an image (/etc/passwd.jpg); to search by an example photo, send it"),
            ("/api/search?q=%22x%22%20%2B%202%3A.%2Fsecret.png", .badRequest, "a query names an image (./secret.png)"),
            ("/api/places?name=x&name=Paris", .badRequest, "the parameter name is given more than once"),
            ("/api/photos/999999", .notFound, "no indexed photo has id 999999"),
            ("/api/photos/abc", .notFound, "no photo has id abc"),
            ("/api/photos/-1", .notFound, "no photo has id -1"),
            ("/api/photos/1e3", .notFound, "no photo has id 1e3"),
            ("/api/photos/99999999999999999999/file", .notFound, "no photo has id"),
            ("/api/photos/..%2F..%2Fetc%2Fpasswd/file", .notFound, ""),
            ("/api/photos/%2e%2e/file", .notFound, ""),
            ("/api/similar/abc", .notFound, "no photo has id abc"),
            ("/api/similar/1?top=0", .badRequest, "invalid top"),
            ("/api/nothing", .notFound, "no such page or API route: /api/nothing"),
            ("/etc/passwd", .notFound, "no such page or API route"),
        ]
        try await Self.app(indexed).test(.router) { client in
            for (target, status, message) in cases {
                try await client.execute(uri: target, method: .get) { response in
                    #expect(response.status == status, "\(target): \(String(buffer: response.body))")
                    let reason = Self.error(response)
                    #expect(reason != nil && (message.isEmpty || reason!.contains(message)), "\(target): \(String(buffer: response.body))")
                    #expect(response.headers[.cacheControl] == "no-store")
                    #expect(!String(buffer: response.body).contains("root:"))
                }
            }
            // Uploads: not an image, nothing, over the library's limit.
            // (Said why, as the command line says it.)
            let lying = try [UInt8](Data(contentsOf: URL(fileURLWithPath: FixtureFiles.path("hostile/lying.png"))))
            for (body, status, message) in [(ByteBuffer(string: "not an image"), HTTPResponse.Status.badRequest, "not a JPEG, PNG"),
                                            (ByteBuffer(bytes: lying), .badRequest, "cannot hold the 15000 × 15000 pixels its header claims"),
                                            (ByteBuffer(), .badRequest, "the request has no image"),
                                            (ByteBuffer(repeating: 0, count: PhotoLibrary.maximumImageBytes + 1), .contentTooLarge,
                                             "larger than \(PhotoLibrary.maximumImageBytes >> 20) MB")] {
                try await client.execute(uri: "/api/search/image", method: .post, body: body) { response in
                    #expect(response.status == status)
                    #expect(Self.error(response)?.contains(message) == true, "\(String(buffer: response.body))")
                }
            }
        }
    }

    @Test("the routes answer what the library says: search, similar, photo, thumbnail, file, upload")
    func routes() async throws {
        let indexed = try Indexed()
        let expected = try indexed.library.search(try SearchQuery.parse("a cat on a sofa"), .init(top: 3))
        try await Self.app(indexed).test(.router) { client in
            let found = try await client.execute(uri: "/api/search?q=a+cat+on+a+sofa&top=3", method: .get) { response in
                #expect(response.status == .ok && response.headers[.contentType] == "application/json; charset=utf-8")
                #expect(response.headers[.cacheControl] == "no-store")
                #expect(response.headers[.xContentTypeOptions] == "nosniff")
                // Keys sorted, slashes as they are.
                #expect(String(buffer: response.body).hasPrefix(#"{"next":3,"results":[{"copies":[],"date_source":"#))
                #expect(String(buffer: response.body).hasSuffix(#","total":5}"#))
                #expect(String(buffer: response.body).contains(#""file":"/api/photos/"#))
                return try JSONDecoder().decode(Results.self, from: Data(buffer: response.body))
            }
            #expect(found.results.map(\.id) == expected.map(\.photoID))
            #expect(found.results.map(\.score) == expected.map(\.score))

            let first = found.results[0]
            try await client.execute(uri: "/api/similar/\(first.id)?top=10", method: .get) { response in
                let similar = try JSONDecoder().decode(Results.self, from: Data(buffer: response.body))
                #expect(similar.results.count == 4 && !similar.results.contains { $0.id == first.id })
            }
            try await client.execute(uri: "/api/photos/\(first.id)/thumbnail", method: .get) { response in
                #expect(response.status == .ok && response.headers[.contentType] == "image/jpeg")
                #expect(response.headers[.cacheControl] == "private, max-age=3600")
                #expect(Array(Data(buffer: response.body).prefix(3)) == [0xFF, 0xD8, 0xFF])
            }
            let original = try Data(contentsOf: URL(fileURLWithPath: first.path))
            try await client.execute(uri: first.file, method: .get) { response in
                #expect(response.status == .ok)
                #expect(Data(buffer: response.body) == original)
                #expect(response.headers[.cacheControl] == "private, max-age=3600")
            }
            let upload = ByteBuffer(bytes: try FixtureFiles.bytes("photos/chelsea.png"))
            try await client.execute(uri: "/api/search/image?top=2", method: .post, body: upload) { response in
                let byImage = try JSONDecoder().decode(Results.self, from: Data(buffer: response.body))
                #expect(byImage.results.first?.path == indexed.photos + "/cat.png")
            }
            var tags: [String: String] = [:]
            for target in ["/", "/app.js", "/app.css"] {
                try await client.execute(uri: target, method: .get) { response in
                    #expect(response.status == .ok && response.headers[.cacheControl] == "no-cache")
                    #expect(response.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
                    tags[target] = response.headers[.eTag]
                    if target == "/" { #expect(response.headers[.contentType] == "text/html; charset=utf-8") }
                }
                // Checked again with its tag (among others, or weakly): 304, no body.
                let tag = try #require(tags[target])
                #expect(tag.count == 18 && tag.hasPrefix("\"") && tag.hasSuffix("\""))
                for offered in [tag, "\"0123\", " + tag, "W/" + tag, "*"] {
                    try await client.execute(uri: target, method: .get, headers: [.ifNoneMatch: offered]) { response in
                        #expect(response.status == .notModified && response.body.readableBytes == 0, "\(offered)")
                        #expect(response.headers[.eTag] == tag)
                    }
                }
                try await client.execute(uri: target, method: .get, headers: [.ifNoneMatch: "\"0123\""]) { response in
                    #expect(response.status == .ok && response.body.readableBytes > 1000)
                }
            }
            #expect(Set(tags.values).count == 3)
        }
        // A photo gone since indexing, and a link put in a photo's place.
        let rocket = indexed.photos + "/rocket.jpg"
        let id = try #require(try indexed.library.search(try SearchQuery.parse("x"), .init(top: 10)).first { $0.path == rocket }?.photoID)
        try FileManager.default.removeItem(atPath: rocket)
        try await Self.app(indexed).test(.router) { client in
            try await client.execute(uri: "/api/photos/\(id)/file", method: .get) { response in
                #expect(response.status == .notFound && Self.error(response) == "\(rocket) was indexed but is no longer on disk")
            }
            try FileManager.default.createSymbolicLink(atPath: rocket, withDestinationPath: "/etc/passwd")
            try await client.execute(uri: "/api/photos/\(id)/file", method: .get) { response in
                #expect(response.status == .notFound && !String(buffer: response.body).contains("root:"))
            }
        }
    }

    struct PlacedResults: Decodable {
        struct Place: Decodable, Equatable { let name: String; let region: String?; let country_code: String; let country: String }
        struct Hit: Decodable { let id: Int64; let path: String; let place: Place? }
        let results: [Hit]
    }

    @Test("places: place= (repeatable), near= and in: filter searches and similar; results, photo details and /api/places show places")
    func places() async throws {
        let indexed = try Indexed()
        for name in ["lisbon.jpg", "porto.jpg", "tokyo.jpg", "são paulo.jpg", "atlantic.jpg"] {
            try FileManager.default.copyItem(atPath: FixtureFiles.path("photos/places/" + name), toPath: indexed.photos + "/" + name)
        }
        _ = try indexed.library.index(IndexingOptions(roots: [indexed.photos]))
        @Sendable func names(_ body: ByteBuffer) throws -> Set<String> {
            Set(try JSONDecoder().decode(PlacedResults.self, from: Data(buffer: body)).results.map { String($0.path.split(separator: "/").last!) })
        }
        try await Self.app(indexed).test(.router) { client in
            for (uri, expected) in [
                ("/api/search?q=a+photo&place=Lisboa", ["lisbon.jpg"]),
                ("/api/search?q=a+photo&place=portugal&place=%E6%9D%B1%E4%BA%AC", ["lisbon.jpg", "porto.jpg", "tokyo.jpg"]),
                ("/api/search?q=a+photo+in%3A%22S%C3%A3o+Paulo%22", ["são paulo.jpg"]),
                ("/api/search?q=a+photo+in%3APortugal&after=2019-06-14", ["porto.jpg"]),
                ("/api/search?q=a+photo&near=41.15,-8.61,5", ["porto.jpg"]),
                ("/api/search?q=a+photo&near=0.5,-30,1", ["atlantic.jpg"]),
                // Filters alone (score null), name= and camera=.
                ("/api/search?q=in%3ALisbon", ["lisbon.jpg"]),
                ("/api/search?q=name%3A*o.jpg&camera=GPS%20fixture", ["porto.jpg", "tokyo.jpg", "são paulo.jpg"]),
                ("/api/search?q=lisbon.jpg", ["lisbon.jpg"]),
                ("/api/search?q=a+photo&name=porto&name=tokyo", ["porto.jpg", "tokyo.jpg"]),
                ("/api/search?q=a+photo&camera=nikon", []),
            ] {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status == .ok, "\(uri): \(String(buffer: response.body))")
                    let found = try names(response.body)
                    #expect(found == Set(expected), "\(uri)")
                }
            }
            let tokyo = try await client.execute(uri: "/api/search?q=a+photo&place=Japan", method: .get) { response in
                try JSONDecoder().decode(PlacedResults.self, from: Data(buffer: response.body)).results[0]
            }
            #expect(tokyo.place == .init(name: "Tokyo", region: "Tokyo", country_code: "JP", country: "Japan"))
            try await client.execute(uri: "/api/similar/\(tokyo.id)?place=PT", method: .get) { response in
                let found = try names(response.body)
                #expect(found == ["lisbon.jpg", "porto.jpg"])
            }
            try await client.execute(uri: "/api/photos/\(tokyo.id)", method: .get) { response in
                struct Photo: Decodable { let place: PlacedResults.Place?; let latitude: Double? }
                let photo = try JSONDecoder().decode(Photo.self, from: Data(buffer: response.body))
                #expect(photo.place?.name == "Tokyo" && photo.latitude != nil)
                #expect(String(buffer: response.body).contains(#""distance_km":"#))
                #expect(String(buffer: response.body).contains(#""taken_at":"2023-04-02T08:30:00""#)
                        && String(buffer: response.body).contains(#""date_source":"exif""#))
            }
            // One date everywhere: a photo without an EXIF date has its file's
            // time, marked so, in results and in its details alike.
            struct Dated: Decodable { let id: Int64; let taken_at: String?; let date_source: String? }
            struct DatedResults: Decodable { let results: [Dated] }
            let undated = try await client.execute(uri: "/api/search?q=a+photo&top=50", method: .get) { response in
                try JSONDecoder().decode(DatedResults.self, from: Data(buffer: response.body)).results.first { $0.date_source == "file" }
            }
            let fileDated = try #require(undated)
            try await client.execute(uri: "/api/photos/\(fileDated.id)", method: .get) { response in
                let photo = try JSONDecoder().decode(Dated.self, from: Data(buffer: response.body))
                #expect(photo.taken_at != nil && photo.taken_at == fileDated.taken_at && photo.date_source == "file")
            }
            struct Places: Decodable {
                struct Place: Decodable { let name: String; let country_code: String; let photos: Int; let matched_as: String? }
                let places: [Place]
            }
            try await client.execute(uri: "/api/places", method: .get) { response in
                let places = try JSONDecoder().decode(Places.self, from: Data(buffer: response.body)).places
                #expect(Set(places.map(\.name)) == ["Lisbon", "Porto", "Tokyo", "São Paulo"])
                #expect(places.allSatisfy { $0.photos == 1 && $0.matched_as == nil })
            }
            try await client.execute(uri: "/api/places?name=PORTUGAL", method: .get) { response in
                let places = try JSONDecoder().decode(Places.self, from: Data(buffer: response.body)).places
                #expect(Set(places.map(\.name)) == ["Lisbon", "Porto"] && places.allSatisfy { $0.matched_as == "country" })
            }
            // Refusals: 400 with the reason.
            for (uri, message) in [
                ("/api/search?q=a+photo&place=Atlantis", #"no photo in the index was taken in a place named "Atlantis""#),
                ("/api/search?q=a+photo&near=91,0", "latitude 91.0 is not between -90 and 90"),
                ("/api/search?q=a+photo&near=1,2,1e9", "is not more than 0 and at most"),
                ("/api/search?q=a+photo&" + (0..<51).map { "place=p\($0)" }.joined(separator: "&"), "51 place names given, more than 50"),
                ("/api/places?name=-", "has no letters or digits"),
                ("/api/places?name=Atlantis", ""),
            ] {
                try await client.execute(uri: uri, method: .get) { response in
                    if message.isEmpty {
                        #expect(response.status == .ok && String(buffer: response.body) == #"{"places":[]}"#)
                    } else {
                        #expect(response.status == .badRequest, "\(uri)")
                        #expect(Self.error(response)?.contains(message) == true, "\(uri): \(String(buffer: response.body))")
                    }
                }
            }
        }
    }

    struct ProbableResults: Decodable {
        struct Hit: Decodable { let id: Int64; let score: Float; let probability: Float? }
        let results: [Hit]
    }

    @Test("timeline: every photo newest first (the date results show, ties by id), in pages a cursor continues, with the filters")
    func timeline() async throws {
        let indexed = try Indexed()
        for name in ["lisbon.jpg", "porto.jpg", "tokyo.jpg", "são paulo.jpg", "atlantic.jpg"] {
            try FileManager.default.copyItem(atPath: FixtureFiles.path("photos/places/" + name), toPath: indexed.photos + "/" + name)
        }
        _ = try indexed.library.index(IndexingOptions(roots: [indexed.photos]))
        struct Page: Decodable {
            struct Hit: Decodable { let id: Int64; let path: String; let taken_at: String; let score: Float? }
            let results: [Hit]
            let next: String?
        }
        try await Self.app(indexed).test(.router) { client in
            func page(_ uri: String) async throws -> Page {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status == .ok, "\(uri): \(String(buffer: response.body))")
                    return try JSONDecoder().decode(Page.self, from: Data(buffer: response.body))
                }
            }
            let all = try await page("/api/timeline")
            #expect(all.results.count == 10 && all.next == nil && all.results.allSatisfy { $0.score == nil })
            // Newest first by the date each photo's details give, ties by id.
            var dated: [(date: String, id: Int64)] = []
            for hit in all.results {
                let details = try await client.execute(uri: "/api/photos/\(hit.id)", method: .get) { response in
                    try JSONDecoder().decode(Page.Hit.self, from: Data(buffer: response.body))
                }
                dated.append((String(details.taken_at.prefix(19)), hit.id))
            }
            #expect(all.results.map(\.id) == dated.sorted { $0.date > $1.date || ($0.date == $1.date && $0.id > $1.id) }.map(\.id))
            // Pages of 3 continue each other to the end.
            var paged: [Int64] = [], uri = "/api/timeline?top=3", pages = 0
            while true {
                let next = try await page(uri)
                paged += next.results.map(\.id)
                pages += 1
                guard let cursor = next.next else { break }
                #expect(next.results.count == 3)
                uri = "/api/timeline?top=3&cursor=" + cursor
            }
            #expect(paged == all.results.map(\.id) && pages == 4)
            let portugal = try await page("/api/timeline?place=Portugal")
            #expect(portugal.results.map { String($0.path.split(separator: "/").last!) } == ["porto.jpg", "lisbon.jpg"])
            for (uri, message) in [("/api/timeline?cursor=yesterday", "cursor must be"), ("/api/timeline?min_score=0.2", "ranks nothing"),
                                   ("/api/timeline?cursor=2024-12-01T00:00:00.000_5", "cursor must be"),
                                   ("/api/timeline?cursor=2024%0A_5", "cursor must be"), ("/api/timeline?cursor=2024_0", "cursor must be")] {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status == .badRequest && Self.error(response)?.contains(message) == true, "\(uri): \(String(buffer: response.body))")
                }
            }
        }
    }

    @Test("SigLIP 2: a Chinese query answers with match probabilities, min_probability filters by them, similar has none")
    func probabilities() async throws {
        let indexed = try Indexed(model: FixtureFiles.path("models/siglip2-p8"))
        let expected = try indexed.library.search(try SearchQuery.parse("海边的日落"), .init(top: 10))
        #expect(expected.count == 5 && expected.allSatisfy { $0.probability != nil })
        let bar = expected[2].probability! * 0.999
        let query = "q=%E6%B5%B7%E8%BE%B9%E7%9A%84%E6%97%A5%E8%90%BD"
        try await Self.app(indexed).test(.router) { client in
            let found = try await client.execute(uri: "/api/search?\(query)", method: .get) { response in
                #expect(response.status == .ok)
                return try JSONDecoder().decode(ProbableResults.self, from: Data(buffer: response.body))
            }
            #expect(found.results.map(\.id) == expected.map(\.photoID))
            #expect(found.results.map(\.probability) == expected.map(\.probability))
            try await client.execute(uri: "/api/search?\(query)&min_probability=\(bar)", method: .get) { response in
                let filtered = try JSONDecoder().decode(ProbableResults.self, from: Data(buffer: response.body))
                #expect(filtered.results.map(\.id) == expected.filter { $0.probability! >= bar }.map(\.photoID))
            }
            try await client.execute(uri: "/api/similar/\(found.results[0].id)", method: .get) { response in
                let similar = try JSONDecoder().decode(ProbableResults.self, from: Data(buffer: response.body))
                #expect(!similar.results.isEmpty && similar.results.allSatisfy { $0.probability == nil })
                #expect(String(buffer: response.body).contains(#""probability":null"#))
            }
            for bad in ["\(query)&min_probability=1.5", "\(query)&min_probability=x", "q=a+%2B+b&min_probability=0.5"] {
                try await client.execute(uri: "/api/search?\(bad)", method: .get) { response in
                    #expect(response.status == .badRequest, "\(bad)")
                    #expect(Self.error(response)?.contains("probability") == true, "\(bad)")
                }
            }
        }
    }

    @Test("a client may ask for as many results as the command line: 2 500 of 2 500 photos, each with its details")
    func manyResults() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("photosearch-api-many-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let library = PhotoLibrary(database: root + "/index.sqlite", model: Self.model)
        var generator = SplitMix64(seed: 7)
        let vectors = (0..<(2500 * 32)).map { _ in Float(generator.normal()) }
        try SyntheticIndex.insertPhotos(into: library, vectors: vectors, dimension: 32, precision: .int8) { "/photos/\($0).jpg" }
        let app = GalleryServer(api: GalleryAPI(library: library), configuration: .init(port: 0)).application()
        try await app.test(.router) { client in
            try await client.execute(uri: "/api/search?q=anything&top=2500", method: .get) { response in
                #expect(response.status == .ok, "\(String(buffer: response.body).prefix(300))")
                let found = try JSONDecoder().decode(Results.self, from: Data(buffer: response.body))
                #expect(found.results.count == 2500)
                #expect(Set(found.results.map(\.path)).count == 2500)
            }
        }
    }

    @Test("search pages: offset continues the ranking exactly, next says where, total counts what the filters let through, weaker is judged against the best of all")
    func searchPages() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("photosearch-api-pages-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let library = PhotoLibrary(database: root + "/index.sqlite", model: Self.model)
        var generator = SplitMix64(seed: 11)
        let vectors = (0..<(600 * 32)).map { _ in Float(generator.normal()) }
        try SyntheticIndex.insertPhotos(into: library, vectors: vectors, dimension: 32, precision: .int8) { "/photos/\($0 % 3)/\($0).jpg" }
        struct Page: Decodable {
            struct Hit: Decodable { let id: Int64; let score: Float; let weaker: Bool }
            let results: [Hit]
            let next: Int?
            let total: Int
        }
        let app = GalleryServer(api: GalleryAPI(library: library), configuration: .init(port: 0)).application()
        try await app.test(.router) { client in
            func page(_ uri: String) async throws -> Page {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status == .ok, "\(uri): \(String(buffer: response.body).prefix(300))")
                    return try JSONDecoder().decode(Page.self, from: Data(buffer: response.body))
                }
            }
            let all = try await page("/api/search?q=a+dog&top=600")
            #expect(all.results.count == 600 && all.total == 600 && all.next == nil)
            let best = all.results[0].score
            #expect(all.results.allSatisfy { $0.weaker == ($0.score < best - PhotoLibrary.weakerMargin) })
            #expect(all.results.contains { $0.weaker } && all.results.contains { !$0.weaker }, "both kinds, or the rule is untested")
            var paged: [Page.Hit] = [], uri = "/api/search?q=a+dog&top=250", offsets: [Int] = []
            while true {
                let next = try await page(uri)
                paged += next.results
                guard let offset = next.next else { break }
                offsets.append(offset)
                uri = "/api/search?q=a+dog&top=250&offset=\(offset)"
            }
            #expect(offsets == [250, 500])
            #expect(paged.map(\.id) == all.results.map(\.id) && paged.map(\.weaker) == all.results.map(\.weaker))
            // A filter: the total is what it lets through.
            let folder = try await page("/api/search?q=a+dog&in=/photos/1&top=10")
            #expect(folder.total == 200 && folder.next == 10)
            // sort=date orders one page: no next.
            #expect(try await page("/api/search?q=a+dog&top=10&sort=date").next == nil)
            // Similar: the others.
            let like = try await page("/api/similar/\(all.results[0].id)?top=10&offset=590")
            #expect(like.total == 599 && like.results.count == 9 && like.next == nil && like.results.allSatisfy { !$0.weaker })
            for (uri, message) in [("/api/search?q=a+dog&offset=-1", "offset"), ("/api/search?q=a+dog&top=10&offset=9991", "between 0 and 9990"),
                                   ("/api/search?q=a+dog&offset=x", "offset must be a whole number"),
                                   ("/api/timeline?offset=10", "cursor")] {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status == .badRequest && Self.error(response)?.contains(message) == true, "\(uri): \(String(buffer: response.body))")
                }
            }
        }
    }

    @Test("months: the months photos were taken in, newest first, with their counts")
    func months() async throws {
        let indexed = try Indexed()
        for name in ["lisbon.jpg", "porto.jpg", "tokyo.jpg"] {
            try FileManager.default.copyItem(atPath: FixtureFiles.path("photos/places/" + name), toPath: indexed.photos + "/" + name)
        }
        _ = try indexed.library.index(IndexingOptions(roots: [indexed.photos]))
        struct Months: Decodable { struct Month: Decodable, Equatable { let month: String; let photos: Int }; let months: [Month] }
        // What the timeline gives, counted by month.
        let timeline = try indexed.library.timeline(.init(top: 100))
        var counts: [String: Int] = [:]
        for hit in timeline { counts[String(hit.takenAt!.prefix(7)), default: 0] += 1 }
        let expected = counts.sorted { $0.key > $1.key }.map { Months.Month(month: $0.key, photos: $0.value) }
        try await Self.app(indexed).test(.router) { client in
            try await client.execute(uri: "/api/months", method: .get) { response in
                let months = try JSONDecoder().decode(Months.self, from: Data(buffer: response.body)).months
                #expect(months == expected)
                #expect(months.contains(Months.Month(month: "2019-06", photos: 2)))
            }
        }
        // No index yet: none.
        let empty = PhotoLibrary(database: indexed.root + "/none.sqlite", model: nil)
        #expect(try empty.months().isEmpty)
    }

    @Test("with a token: 401 without it; the Bearer header, or the cookie that opening /?token= sets, lets clients in")
    func token() async throws {
        let indexed = try Indexed()
        let token = "0123456789abcdef0123"
        try await Self.app(indexed, token: token).test(.router) { client in
            for target in ["/", "/api/status", "/api/search?q=cat", "/app.js"] {
                try await client.execute(uri: target, method: .get) { response in
                    #expect(response.status == .unauthorized, "\(target)")
                    #expect(Self.error(response)?.contains("needs its token") == true)
                }
            }
            try await client.execute(uri: "/api/status", method: .get, headers: [.authorization: "Bearer wrong-token-0000000"]) { response in
                #expect(response.status == .unauthorized)
            }
            for scheme in ["Bearer", "bearer", "BEARER"] {
                try await client.execute(uri: "/api/status", method: .get, headers: [.authorization: "\(scheme) \(token)"]) { response in
                    #expect(response.status == .ok, "\(scheme)")
                }
            }
            try await client.execute(uri: "/?token=wrong", method: .get) { response in
                #expect(response.status == .unauthorized && Self.error(response) == "wrong token")
            }
            let cookie = try await client.execute(uri: "/?token=\(token)", method: .get) { response in
                #expect(response.status == .seeOther && response.headers[.location] == "/")
                return try #require(response.headers[.setCookie])
            }
            // A bookmarked search with the token goes on to the same search.
            for spelled in ["token", "%74oken", "t%6Fken"] {
                try await client.execute(uri: "/?q=a+cat&\(spelled)=\(token)&after=2024", method: .get) { response in
                    #expect(response.status == .seeOther && response.headers[.location] == "/?q=a+cat&after=2024", "\(spelled): \(response.headers)")
                }
            }
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Max-Age=31536000"))
            // A browser without it is told what to do in a page, not JSON.
            try await client.execute(uri: "/?q=cat", method: .get, headers: [.accept: "text/html,application/xhtml+xml"]) { response in
                #expect(response.status == .unauthorized && response.headers[.contentType] == "text/html; charset=utf-8")
                #expect(String(buffer: response.body).contains("This gallery needs its link"))
                #expect(response.headers[.contentSecurityPolicy] != nil)
            }
            let pair = String(cookie.prefix { $0 != ";" })
            try await client.execute(uri: "/api/status", method: .get, headers: [.cookie: pair]) { response in
                #expect(response.status == .ok)
            }
        }
    }
}
