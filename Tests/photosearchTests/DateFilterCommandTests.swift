import Foundation
import Testing
import TestSupport

/// `--after` and `--before` compare a photo's date as results show it: its
/// EXIF date, else its file's modification time in local time. Files
/// without EXIF dates are compared without rendering each file time (see
/// `SearchFilter.dateCondition`): what they keep must be what the rendered
/// times say, in any zone, across a clock change.
@Suite("--after and --before on file times")
struct DateFilterCommandTests {
    static let model = CommandRunner.fixture("models/oc-vit-gelu-p16")

    @Test("file times around a bound are kept exactly when their local time is past it, where clocks go back over it too",
          arguments: ["America/New_York", "Pacific/Kiritimati", "Etc/GMT+12", "UTC"])
    func fileTimesAroundBound(zone: String) throws {
        try #require(FileManager.default.fileExists(atPath: "/usr/share/zoneinfo/" + zone), "tzdata is not installed")
        try check(tz: zone, timeZone: try #require(TimeZone(identifier: zone)))
    }

    /// A POSIX TZ may put local time up to 24:59:59 from UTC (the sign is
    /// west-positive): past the 14 hours of any zone file.
    @Test("the same with the farthest offsets a POSIX TZ may give", arguments: [("XXX-24:30", 88_200), ("XXX+24:59:59", -89_999)])
    func farthestOffsets(tz: String, secondsEast: Int) throws {
        try check(tz: tz, timeZone: try #require(TimeZone(identifier: "UTC")), shift: secondsEast)
    }

    /// Files with times around a bound, indexed and filtered under `tz`;
    /// what each option keeps against the times rendered in `timeZone`
    /// after adding `shift` seconds.
    func check(tz zone: String, timeZone: TimeZone, shift: Int = 0) throws {
        let folder = try TemporaryDirectory()
        let photos = folder.path + "/photos", database = folder.path + "/index.sqlite"
        try FileManager.default.createDirectory(atPath: photos, withIntermediateDirectories: true)
        // 01:30 on 5 November 2023 comes twice in New York: in summer time, then an hour later in winter time.
        let bound = "2023-11-05T01:30:00", boundAsUTC = 1_699_147_800
        let hour = 3_600
        let offsets = [-26 * hour, -25 * hour - 1, -25 * hour, -24 * hour - 1800, -14 * hour - 1, -14 * hour, -12 * hour, -5 * hour - 1,
                       -5 * hour, -4 * hour - 1, -4 * hour, -hour, -1, 0, 1, hour, 4 * hour, 5 * hour, 6 * hour, 12 * hour, 12 * hour + 1,
                       14 * hour, 24 * hour + 1800, 25 * hour, 25 * hour + 1, 26 * hour]
        var times: [String: Date] = [:]
        for (index, offset) in offsets.enumerated() {
            let name = "\(index).png"
            try LargePNG.write(photos + "/" + name, width: 8, height: 8, value: UInt8(index * 9))
            let time = Date(timeIntervalSince1970: Double(boundAsUTC + offset))
            try FileManager.default.setAttributes([.modificationDate: time], ofItemAtPath: photos + "/" + name)
            times[name] = time
        }
        let environment = ["TZ": zone]
        let indexed = try CommandRunner.run(["index", photos, "--db", database, "--model", Self.model], environment: environment)
        try #require(indexed.status == 0, "\(indexed.standardError)")

        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        let later = Set(times.filter { formatter.string(from: $0.value.addingTimeInterval(Double(shift))) >= bound }.keys)
        // Both sides hold files within the margin the SQL leaves to rendering.
        #expect(later.count > 2 && later.count < offsets.count - 2, "\(later)")
        func kept(_ option: String) throws -> Set<String> {
            let result = try CommandRunner.run(["search", "a photo", option, bound, "--top", "100", "--paths", "--db", database, "--model", Self.model],
                                               environment: environment)
            #expect(result.status == 0, "\(result.standardError)")
            return Set(result.standardOutput.split(separator: "\n").map { String($0.split(separator: "/").last!) })
        }
        #expect(try kept("--after") == later, "\(zone)")
        #expect(try kept("--before") == Set(times.keys).subtracting(later), "\(zone)")
    }
}
