import ArgumentParser
import FileAccess
import Foundation
import Imaging
import PhotoIndex

/// How many results, which photos, and in which form: shared by search and similar.
struct ResultOptions: ParsableArguments {
    @Option(name: .long, parsing: .unconditional, help: "Number of results.")
    var top = 10

    // (Unconditional: "-0.2" is this option's value, not an option.)
    @Option(name: .long, parsing: .unconditional, help: "Leave out results whose cosine similarity is below this.")
    var minScore: Float?

    @Flag(name: .long, help: "One JSON object per result: path, score, probability (SigLIP models), taken_at, date_source, place (name, region, country_code, country, distance_km), copies (other files with the same bytes).")
    var json = false

    @Flag(name: .long, help: "Only the paths, one per line.")
    var paths = false

    @Flag(name: .long, help: "With --paths: end each path with NUL instead of a newline (for xargs -0).")
    var null = false

    /// Those of these options that take no value (`PhotoSearch.queriesAfterSeparator`).
    static let flags: Set<String> = ["--json", "--paths", "--null"]

    @Option(name: .long, help: "Only photos taken on or after this date (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDTHH:MM).")
    var after: String?

    @Option(name: .long, help: "Only photos taken before this date.")
    var before: String?

    @Option(name: .customLong("in"), help: "Only photos under this folder.", completion: .directory)
    var folder: String?

    @Option(name: .long, help: ArgumentHelp("Only photos taken in this place: a city, region or country, by any of its names (repeat for several).",
                                            discussion: "Case and accents do not matter; an ambiguous name (Paris) matches every place of that name: photosearch places NAME lists them. The query term in:NAME does the same."))
    var place: [String] = []

    @Option(name: .long, help: ArgumentHelp("Only photos whose file name matches: a glob (IMG_10*.jpg) or a part of the name (repeat for several).",
                                            discussion: "ASCII letters in any case. The query term name:PATTERN does the same; a query of filters alone lists the photos they let through, newest first.",
                                            valueName: "pattern"))
    var name: [String] = []

    @Option(name: .long, help: ArgumentHelp("Only photos from a camera whose make and model hold this text (repeat for several).",
                                            discussion: "As EXIF gives them (\"Apple iPhone 12\"), ASCII letters in any case. The query term camera:TEXT does the same.",
                                            valueName: "text"))
    var camera: [String] = []

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Only photos taken within RADIUS km (default 10) of a position: LAT,LON[,RADIUS].",
                                                                     valueName: "lat,lon[,km]"))
    var near: String?

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("In a partitioned index (large libraries; photosearch status says), how many of its cells to scan.",
                                            discussion: "More finds more of the true best matches, more slowly; the default is status's figure."))
    var probes: Int?

    @Option(name: .long, help: "Order of the top results: score (best first) or date (newest first).")
    var sort: PhotoLibrary.Order = .score

    func validate() throws {
        let maximum = PhotoLibrary.SearchOptions.maximumTop
        if !(1...maximum).contains(top) { throw ValidationError("--top must be between 1 and \(maximum).") }
        if let minScore, !(minScore >= -1 && minScore <= 1) { throw ValidationError("--min-score must be between -1 and 1.") }
        if json && paths { throw ValidationError("--json and --paths cannot be used together.") }
        try Self.validate(folder: folder)
        if null && !paths { throw ValidationError("--null goes with --paths.") }
        let maximumProbes = PhotoLibrary.SearchOptions.maximumProbes
        if let probes, !(1...maximumProbes).contains(probes) { throw ValidationError("--probes must be between 1 and \(maximumProbes).") }
        do {
            try searchOptions().validate()
        } catch {
            throw ValidationError(error.localizedDescription + ".")
        }
    }

    /// `--in` (here and in `duplicates`) names a folder. An existing file
    /// there is a mistake to say: nothing is under it. A folder gone from
    /// the disk is not: its photos may still be in the index.
    static func validate(folder: String?) throws {
        guard let folder else { return }
        // (An empty path would have meant the current folder.)
        if folder.isEmpty { throw ValidationError("--in is empty: give a folder.") }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw ValidationError("--in takes a folder, and \(FilePaths.displayed(folder)) is a file.")
        }
    }

    /// The library's options; `minimumProbability` is `search`'s alone
    /// (`ProbabilityOption`): `similar` has no calibrated probability.
    func searchOptions(minimumProbability: Float? = nil) throws(PhotoIndexError) -> PhotoLibrary.SearchOptions {
        let filter = SearchFilter(after: try after.map(SearchFilter.instant), before: try before.map(SearchFilter.instant),
                                  folder: folder, places: place, near: try near.map(SearchFilter.Circle.init(parsing:)),
                                  names: name, cameras: camera)
        return PhotoLibrary.SearchOptions(top: top, minimumScore: minScore, minimumProbability: minimumProbability, filter: filter,
                                          probes: probes)
    }

    /// One result of --json.
    struct HitLine: Encodable {
        let hit: SearchHit

        private enum Keys: String, CodingKey {
            case path, pathBytes = "path_bytes", score, probability, weaker, takenAt = "taken_at", dateSource = "date_source", place, copies
        }

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(FilePaths.unicodeText(hit.path), forKey: .path)
            // A name that is not UTF-8 has no exact text: its bytes, too.
            try container.encodeIfPresent(JSONLines.pathBytes(hit.path), forKey: .pathBytes)
            // A query of filters alone ranks nothing.
            try container.encode(hit.ranked ? hit.score : nil, forKey: .score)
            try container.encodeIfPresent(hit.probability, forKey: .probability)
            // As the gallery folds them (`SearchHit.weaker`).
            try container.encode(hit.weaker, forKey: .weaker)
            // The date the table shows and --after/--before compare, and
            // where it comes from: a file's time says when it was copied.
            try container.encode(hit.takenAt, forKey: .takenAt)
            try container.encode(hit.takenAt == nil ? nil : hit.hasCameraDate ? "exif" : "file", forKey: .dateSource)
            try container.encode(hit.place, forKey: .place)
            // The other files with the same bytes, which this result stands for.
            try container.encode(hit.copies.map(FilePaths.unicodeText), forKey: .copies)
        }
    }

    func print(_ hits: [SearchHit]) throws {
        let hits = PhotoLibrary.ordered(hits, by: sort)
        var output = ""
        if paths {
            // The file's exact bytes, as xargs -0 and shells need them.
            var bytes: [UInt8] = []
            for hit in hits { bytes += FilePaths.fileSystemBytes(hit.path) + [null ? 0 : 0x0A] }
            Terminal.output(bytes: bytes)
            return
        } else if json {
            for hit in hits { output += try JSONLines.line(HitLine(hit: hit)) }
        } else {
            // SigLIP: the match probability beside the score.
            let probabilities = hits.contains { $0.probability != nil }
            // Where each was taken ("Lisbon, PT"), when any has a place.
            let places = hits.map { hit in hit.place.map { Self.shortened($0.name, to: 22) + ", " + $0.countryCode } ?? "-" }
            let placeWidth = hits.contains { $0.place != nil } ? places.map(\.count).max()! : 0
            // Weaker matches (`SearchHit.weaker`) below a rule, as the
            // gallery folds them (said on standard error when all are);
            // marked one by one in date order, where they are not together.
            let byScore = sort == .score
            for (rank, hit) in hits.enumerated() {
                if byScore, hit.weaker, rank > 0, !hits[rank - 1].weaker { output += "     -- weaker matches --\n" }
                let date = hit.takenAt.map { String($0.prefix(16)).replacingOccurrences(of: "T", with: " ") } ?? "-"
                let probability = probabilities ? String(format: "%5.1f%%  ", 100 * Double(hit.probability ?? 0)) : ""
                let place = placeWidth > 0 ? places[rank] + String(repeating: " ", count: placeWidth - places[rank].count + 2) : ""
                let copies = (hit.copies.isEmpty ? "" : "  (\(hit.copies.count + 1) copies)") + (!byScore && hit.weaker ? "  (weaker)" : "")
                let score = hit.ranked ? String(format: "% .4f", hit.score) : "      -"   // a sign column: negative scores stay aligned
                output += String(format: "%3d  %@  %@%@  %@%@%@\n", rank + 1, score, probability,
                                 date.padding(toLength: 16, withPad: " ", startingAt: 0), place, FilePaths.displayed(hit.path), copies)
            }
            if hits.isEmpty { Terminal.error("photosearch: no matching photos\n") }
            if let first = hits.first, hits.allSatisfy(\.weaker) {
                Terminal.error("photosearch: no photo matches well\(first.probability == nil ? "" : " (all below 50%)"); these are the closest\n")
            }
        }
        Terminal.output(output)
    }

    /// Says on standard error when the index holds photos a search could not
    /// see (`what` was done to the others): those a stopped
    /// `index --replace-model` has not embedded yet.
    static func noteUnembedded(_ library: PhotoLibrary, _ what: String = "searched") {
        guard let missing = try? library.photosWithoutEmbeddings(), missing > 0 else { return }
        Terminal.error("photosearch: \(missing) indexed photo\(missing == 1 ? " was" : "s were") not \(what): a run replacing the model "
                       + "stopped before embedding them; `photosearch index` finishes it\n")
    }

    /// `text` cut to `length` characters, the cut marked with "…".
    static func shortened(_ text: String, to length: Int) -> String {
        text.count <= length ? text : String(text.prefix(length - 1)) + "…"
    }
}

extension PhotoLibrary.Order: ExpressibleByArgument {}
