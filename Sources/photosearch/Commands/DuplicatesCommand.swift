import ArgumentParser
import FileAccess
import Foundation
import Imaging
import PhotoIndex

struct DuplicatesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "duplicates",
        abstract: "List groups of near-identical photos.",
        discussion: """
            Every two photos of a group are at least --threshold alike (a burst in which each shot \
            resembles the next but the first not the last is split). Each photo is shown with its size in \
            pixels and bytes and its date; a photo with the same bytes as one before it in its group is \
            marked "same bytes as" that one.
            """
    )

    @OptionGroup var database: DatabaseOption

    @Option(name: .long, parsing: .unconditional, help: "Cosine similarity at or above which two photos count as duplicates.")
    var threshold: Float = 0.95

    @Option(name: .customLong("in"), help: "Only photos under this folder.", completion: .directory)
    var folder: String?

    @Flag(name: .long, help: "One JSON object per group: group, similarity, paths, and photos (path, width, height, size, taken_at, date_source, identical_to).")
    var json = false

    @Flag(name: .long, help: "Only the paths: one per line, an empty line between groups.")
    var paths = false

    @Flag(name: .long, help: "With --paths: each path ends in a NUL byte instead of a newline, and groups are not separated (for xargs -0; --json keeps them apart).")
    var null = false

    @Flag(name: .long, help: ArgumentHelp("Compare every pair of photos (slow for large libraries).",
                                          discussion: "From 20 000 photos and a threshold of 0.9, pairs are otherwise looked for among nearby photos only: seconds instead of minutes, and all but a rare pair."))
    var exact = false

    func validate() throws {
        if !(threshold > -1 && threshold <= 1) { throw ValidationError("--threshold must be in (-1, 1].") }
        if json && paths { throw ValidationError("--json and --paths cannot be used together.") }
        if null && !paths { throw ValidationError("--null goes with --paths.") }
        try ResultOptions.validate(folder: folder)
    }

    /// One group of --json.
    struct GroupLine: Encodable {
        let group: Int
        let similarity: Float
        let paths: [String]
        let photos: [PhotoLine]
    }

    struct PhotoLine: Encodable {
        let photo: DuplicatePhoto

        private enum Keys: String, CodingKey {
            case path, pathBytes = "path_bytes", width, height, size, takenAt = "taken_at", dateSource = "date_source", identicalTo = "identical_to"
        }

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(FilePaths.unicodeText(photo.path), forKey: .path)
            try container.encodeIfPresent(JSONLines.pathBytes(photo.path), forKey: .pathBytes)
            try container.encode(photo.width, forKey: .width)
            try container.encode(photo.height, forKey: .height)
            try container.encode(photo.size, forKey: .size)
            try container.encode(photo.takenAt, forKey: .takenAt)
            try container.encode(photo.takenAt == nil ? nil : photo.hasCameraDate ? "exif" : "file", forKey: .dateSource)
            try container.encode(photo.identicalTo.map(FilePaths.unicodeText), forKey: .identicalTo)
        }
    }

    func run() throws {
        try Failure.reporting {
            let library = PhotoLibrary(database: database.path, model: nil)
            let groups = try library.duplicates(threshold: threshold, exact: exact, in: folder)
            defer { ResultOptions.noteUnembedded(library, "compared") }
            if paths {
                // The files' exact bytes, as xargs -0 and shells need them.
                let end: UInt8 = null ? 0 : 0x0A
                var bytes: [UInt8] = []
                for (index, group) in groups.enumerated() {
                    if index > 0 && !null { bytes.append(end) }
                    for path in group.paths { bytes += FilePaths.fileSystemBytes(path) + [end] }
                }
                Terminal.output(bytes: bytes)
                return
            }
            var output = ""
            for (index, group) in groups.enumerated() {
                if json {
                    output += try JSONLines.line(GroupLine(group: index + 1, similarity: group.similarity,
                                                           paths: group.paths.map(FilePaths.unicodeText), photos: group.photos.map(PhotoLine.init)))
                } else {
                    if index > 0 { output += "\n" }
                    output += Self.table(group, number: index + 1)
                }
            }
            if groups.isEmpty && !json { Terminal.error("photosearch: no duplicates at similarity ≥ \(threshold)\n") }
            Terminal.output(output)
        }
    }

    /// A group as a few aligned lines: pixels, bytes, date (a file date
    /// marked "file"), path, and which photo it has the same bytes as.
    static func table(_ group: DuplicateGroup, number: Int) -> String {
        let pixels = group.photos.map { photo in
            photo.width.flatMap { width in photo.height.map { "\(width)×\($0)" } } ?? "-"
        }
        let sizes = group.photos.map { ByteCount.format($0.size) }
        let dates = group.photos.map { photo in
            (photo.takenAt.map { String($0.prefix(16)).replacingOccurrences(of: "T", with: " ") } ?? "-") + (photo.hasCameraDate ? "" : " (file)")
        }
        func padded(_ text: String, _ width: Int, right: Bool = false) -> String {
            let pad = String(repeating: " ", count: max(0, width - text.count))
            return right ? pad + text : text + pad
        }
        let (pixelWidth, sizeWidth, dateWidth) = (pixels.map(\.count).max()!, sizes.map(\.count).max()!, dates.map(\.count).max()!)
        var text = String(format: "group %d: %d photos, every two ≥ %.4f alike\n", number, group.photos.count, group.similarity)
        for (index, photo) in group.photos.enumerated() {
            text += "  " + padded(pixels[index], pixelWidth, right: true) + "  " + padded(sizes[index], sizeWidth, right: true) + "  "
                + padded(dates[index], dateWidth) + "  " + FilePaths.displayed(photo.path)
            if let first = photo.identicalTo { text += "  (same bytes as \(FilePaths.displayed(first)))" }
            text += "\n"
        }
        return text
    }
}
