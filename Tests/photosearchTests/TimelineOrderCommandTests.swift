import Foundation
import Testing
import TestSupport

/// A timeline (a query of filters alone, `GET /api/timeline`) lists photos
/// newest first by the date results show: EXIF's, else the file's time in
/// local time. Since index schema v8 it walks an index of a time that is
/// the same in every zone (`SearchFilter.time`) and stops once no photo
/// further on can be newer (`PhotoSearcher.newest`): its order must be the
/// one sorting every rendered date gives (the way of an index made before
/// v8), in any zone, across a clock change, with EXIF dates that SQLite
/// reads late ("02-31") or not at all.
@Suite("Timelines in time order")
struct TimelineOrderCommandTests {
    static let model = CommandRunner.fixture("models/oc-vit-gelu-p16")

    @Test("the newest photos, and every page of a timeline, are those sorting all rendered dates gives",
          arguments: ["America/New_York", "UTC", "XXX-24:30", "XXX+24:59:59"])
    func order(zone: String) throws {
        if !zone.hasPrefix("XXX") {
            try #require(FileManager.default.fileExists(atPath: "/usr/share/zoneinfo/" + zone), "tzdata is not installed")
        }
        let folder = try TemporaryDirectory()
        let photos = folder.path + "/photos", database = folder.path + "/index.sqlite", before = folder.path + "/before-v8.sqlite"
        try FileManager.default.createDirectory(atPath: photos, withIntermediateDirectories: true)
        // 05:00 UTC on 5 November 2023 is 01:00 in New York, whose clocks
        // go back from 02:00 to 01:00 an hour later: local dates run
        // backwards there. Three files share a second; some are a day or
        // more apart, some years; some sit around the end of February 2023;
        // many within a day of each other, so that a page's last photo and
        // the next ones are within the margin a walk must keep reading.
        let clockChange = 1_699_160_400, hour = 3_600, day = 86_400, february28 = 1_677_585_600
        var times = (0...12).map { clockChange + $0 * 600 } + (-15...15).map { clockChange + $0 * 2 * hour + 60 }
        times += [clockChange + 1800, clockChange + 1800, clockChange - day, clockChange - 25 * hour, clockChange + 26 * hour,
                  clockChange + 365 * day, clockChange - 365 * day, clockChange + 7 * hour + 7]
        times += (0...5).map { february28 + $0 * day }
        for (index, time) in times.enumerated() {
            let path = photos + "/\(index).png"
            try LargePNG.write(path, width: 8, height: 8, value: UInt8(index * 4))
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: Double(time))], ofItemAtPath: path)
        }
        // EXIF dates in and around the repeated hour, one past February's
        // end (SQLite reads it as 3 March), and ones SQLite does not read
        // as dates in our layout: those have no time in the index.
        let taken = ["130": "2023-11-05T01:30:00", "131": "2023-11-05T01:45:00+02:00", "132": "2023-02-31T12:00:00", "133": "junk",
                     "134": "2023-11-05 01:20:00", "135": "2460253.5", "136": "", "137": "2023-11-06T00:00:00",
                     "138": "2023-11-04T20:00:00", "139": "2023-11-05T14:00:00"]
            // Among the files' times: with local times a day ahead, a file
            // read after a photo of this kind (an earlier time) may be newer.
            .merging((0..<31).map { ("\(140 + $0)", Self.text(clockChange + ($0 - 15) * 2 * hour + 60 + $0 * 300)) }) { a, _ in a }
        for name in taken.keys {
            try LargePNG.write(photos + "/\(name).png", width: 8, height: 8, value: UInt8((Int(name)! - 130) * 4 + 2))
        }
        let environment = ["TZ": zone]
        let indexed = try CommandRunner.run(["index", photos, "--db", database, "--model", Self.model], environment: environment)
        try #require(indexed.status == 0, "\(indexed.standardError)")
        let updates = taken.map { "UPDATE photos SET taken_at = '\($0.value)' WHERE path LIKE '%/\($0.key).png';" }.joined()
        _ = try CommandRunner.sqlite(database, updates)
        // Values no indexer writes, which an index may hold all the same:
        // a file time too large for an integer, or not whole, and EXIF
        // dates as blobs (SQLite orders blobs after all text), one not
        // UTF-8 with a control byte, one a date's very bytes; and no date
        // at all (an empty blob is no EXIF date, and 1e300 none a file has).
        let odd = ["171": "modified_at = 1e19", "172": "taken_at = x'30'", "173": "taken_at = x'', modified_at = 1e300",
                   "174": "modified_at = -1500000000.5", "175": "taken_at = x'ff3230323306'",
                   "176": "taken_at = CAST('2023-06-01T12:00:00' AS BLOB)",
                   // File times before 1971 and after 2037 (1 July 1970 and 2040
                   // at 04:30 UTC, 1938), which some SQLite versions render
                   // through another year's offset; an EXIF date whose month
                   // is more than 7 bytes.
                   "177": "modified_at = 15654600000000000", "178": "modified_at = 2224729800000000000",
                   "179": "modified_at = -1000000000000000000", "180": "taken_at = '二〇二三年十一月五日'",
                   // The same month as 176's blob, as text: SQLite groups them apart.
                   "181": "taken_at = '2023-06-15T10:00:00'"]
        for (name, assignment) in odd {
            try LargePNG.write(photos + "/\(name).png", width: 8, height: 8, value: UInt8((Int(name)! - 130) * 4 + 2))
        }
        let more = try CommandRunner.run(["index", photos, "--db", database, "--model", Self.model], environment: environment)
        try #require(more.status == 0, "\(more.standardError)")
        _ = try CommandRunner.sqlite(database, odd.map { "UPDATE photos SET \($0.value) WHERE path LIKE '%/\($0.key).png';" }.joined())
        // The same index as an index from before v8, which sorts every date.
        try FileManager.default.copyItem(atPath: database, toPath: before)
        _ = try CommandRunner.sqlite(before, "DROP INDEX photos_by_time; DELETE FROM grdb_migrations WHERE identifier = 'v8: photos in time order';")
        #expect(try CommandRunner.sqlite(database, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'photos_by_time'") == "1")

        func newest(_ index: String, top: Int) throws -> [String] {
            let result = try CommandRunner.run(["search", "name:*.png", "--top", "\(top)", "--paths", "--db", index, "--model", Self.model],
                                               environment: environment)
            #expect(result.status == 0, "\(result.standardError)")
            return result.standardOutput.split(separator: "\n").map { String($0.split(separator: "/").last!) }
        }
        let all = try newest(before, top: 1000)
        #expect(all.count == times.count + taken.count + odd.count)
        // New York's clock change matters to the order: by file time alone it would differ.
        let fileTimes = all.compactMap { Int($0.dropLast(4)).flatMap { $0 < times.count ? times[$0] : nil } }
        #expect((zone == "America/New_York") == (fileTimes != fileTimes.sorted(by: >)), "\(zone): \(all)")
        #expect(try newest(database, top: 1000) == all, "\(zone)")
        for top in [1, 2, 3, 5, 8, 13, 21] {
            #expect(try newest(database, top: top) == Array(all.prefix(top)), "\(zone), top \(top)")
        }
        // Date filters: their ranges of times seek the walk, and one
        // holding under a quarter of the photos (around February's end, or
        // a year away) is read from the time index; they let through what
        // comparing every rendered date does, in the same order.
        func filtered(_ index: String, _ bounds: [String]) throws -> [String] {
            let result = try CommandRunner.run(["search", "name:*.png", "--top", "1000", "--paths", "--db", index, "--model", Self.model] + bounds,
                                               environment: environment)
            #expect(result.status == 0, "\(result.standardError)")
            return result.standardOutput.split(separator: "\n").map { String($0.split(separator: "/").last!) }
        }
        for bounds in [["--after", "2023-02-28", "--before", "2023-03-01"], ["--after", "2023-03-01T12:00", "--before", "2023-03-03"],
                       ["--after", "2023-11-05T01:00", "--before", "2023-11-05T02:00"], ["--after", "2023-11-06"],
                       ["--before", "2023-11-04T20:00"], ["--after", "2024-06"], ["--before", "2023-01"]] {
            let expected = try filtered(before, bounds)
            #expect(try filtered(database, bounds) == expected, "\(zone) \(bounds)")
            #expect(!expected.isEmpty || bounds == ["--before", "2023-01"], "\(zone) \(bounds)")
        }

        // Every page of the timeline, two photos at a time, through the cursor.
        let server = try ChildProcess(["serve", "--db", database, "--model", Self.model, "--port", "0"], environment: environment)
        defer {
            server.signal(SIGKILL)
            _ = server.finish()
        }
        guard let line = server.waitForLine(where: { $0.hasPrefix("photosearch: serving ") }),
              let port = line.split(separator: " ").dropFirst(2).first.flatMap({ URL(string: String($0))?.port }) else {
            throw TestFailure("the server did not start: \(server.finish().standardError)")
        }
        struct Page: Decodable {
            struct Hit: Decodable { let path: String }
            let results: [Hit]
            let next: String?
        }
        var paged: [String] = [], target = "/api/timeline?top=2"
        while paged.count <= all.count {
            let answer = try HTTPAnswer.request(port: port, method: "GET", target: target)
            try #require(answer.status == 200, "\(target): \(answer.text)")
            let page = try JSONDecoder().decode(Page.self, from: Data(answer.body))
            paged += page.results.map { String($0.path.split(separator: "/").last!) }
            guard let next = page.next else { break }
            target = "/api/timeline?top=2&cursor=" + next.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        }
        // (The photo without any date last; the blobs first, each page
        // after one read from that photo's own date, not the text shown.)
        #expect(paged == all && all.last == "173.png" && Set(all.prefix(3)) == ["172.png", "175.png", "176.png"], "\(zone)")

        // The months: SQLite's own rendering of every date, in the same
        // zone (a guard for any faster way of counting them).
        struct Months: Decodable { struct Month: Decodable { let month: String; let photos: Int }; let months: [Month] }
        let answer = try HTTPAnswer.request(port: port, method: "GET", target: "/api/months")
        let months = try JSONDecoder().decode(Months.self, from: Data(answer.body)).months.map { "\($0.month)|\($0.photos)" }
        let rendered = try CommandRunner.sqlite(before, """
            SELECT substr(COALESCE(substr(taken_at, 1, 19), strftime('%Y-%m-%dT%H:%M:%S', modified_at / 1000000000, 'unixepoch', 'localtime')), 1, 7)
            AS month, COUNT(*) FROM photos WHERE state = 'indexed' GROUP BY month HAVING month IS NOT NULL ORDER BY month DESC
            """, environment: environment)
        #expect(months == rendered.split(separator: "\n").map(String.init), "\(zone)")
        #expect(months.count >= 6, "\(months)")

        // A date, and a path, that are not UTF-8 at all, as blobs: shown
        // mended, where GRDB, which would not read them as strings,
        // crashed the server.
        _ = try CommandRunner.sqlite(database, """
            UPDATE photos SET taken_at = x'ff8061' WHERE path LIKE '%/0.png';
            UPDATE photos SET path = x'2f746d702fff2e706e67' WHERE path LIKE '%/1.png';
            """)
        for (target, shown) in [("/api/months", "\u{FFFD}\u{FFFD}a"), ("/api/timeline?top=3", "\u{FFFD}\u{FFFD}a"),
                                ("/api/timeline?top=500", "/tmp/\u{FFFD}.png")] {
            let answer = try HTTPAnswer.request(port: port, method: "GET", target: target)
            #expect(answer.status == 200 && answer.text.contains(shown), "\(target): \(answer.text)")
        }
        // The empty blob is no EXIF date, shown as none (as `date` takes it), not as "".
        struct Shown: Decodable { struct Hit: Decodable { let path: String; let taken_at: String? }; let results: [Hit] }
        let shown = try JSONDecoder().decode(Shown.self, from: Data(try HTTPAnswer.request(port: port, method: "GET", target: "/api/timeline?top=500").body))
        #expect(shown.results.filter { $0.path.hasSuffix("/173.png") }.map(\.taken_at) == [nil])
    }

    /// "YYYY-MM-DDTHH:MM:SS" of `seconds` since 1970, in UTC.
    static func text(_ seconds: Int) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        return formatter.string(from: Date(timeIntervalSince1970: Double(seconds)))
    }
}
