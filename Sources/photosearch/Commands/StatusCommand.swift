import ArgumentParser
import FileAccess
import Foundation
import Imaging
import PhotoIndex

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show what an index holds: photos, failures, model, size, last run."
    )

    @OptionGroup var database: DatabaseOption

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    /// A time the index records (ISO 8601, UTC, "…Z", as JSON gives it) in
    /// local time with its offset, as people read times: "2026-12-06
    /// 12:27:12 +05:30". Unreadable: as recorded.
    static func localTime(_ recorded: String) -> String {
        let parser = ISO8601DateFormatter()
        guard let date = parser.date(from: recorded) else { return recorded }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone.current
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss xxx"
        return formatter.string(from: date)
    }

    func run() throws {
        try Failure.reporting {
            let status = try PhotoLibrary(database: database.path, model: nil).status()
            if json {
                try JSONLines.print(StatusJSON(status))
            } else {
                Terminal.output(Self.text(status))
            }
        }
    }

    static func text(_ status: IndexStatus) -> String {
        var lines: [String] = []
        lines.append("Index:    \(status.path) (\(ByteCount.format(status.databaseBytes)))")
        lines.append("Photos:   \(status.indexed) indexed, \(status.failed) failed")
        for (index, folder) in status.folders.enumerated() {
            lines.append((index == 0 ? "Folders:  " : "          ") + "\(FilePaths.displayed(folder.path)): \(folder.indexed) indexed, \(folder.failed) failed")
        }
        if status.withPosition > 0 {
            let far = status.withPosition - status.withPlace
            lines.append("Places:   \(status.withPlace) photos with a known place"
                         + (far > 0 ? ", \(far) with a position farther than 100 km from any place (or not derived yet)" : "")
                         + "; \(status.indexed - status.withPosition) without a position")
        }
        if let model = status.model {
            lines.append("Model:    \(model.name), \(model.embeddingSize)-d \(model.precision.rawValue) embeddings, \(model.checksum)")
            if status.embeddings < status.indexed {
                // A run replacing the model, stopped: the old embeddings went first.
                lines.append("Embedded: \(status.embeddings) of the \(status.indexed) indexed photos have this model's embeddings; "
                             + "searches find only those until an index run (which continues the interrupted one) embeds the rest")
            }
        } else {
            lines.append("Model:    none yet")
        }
        if let file = status.vectorFile {
            var line = "Vectors:  \(file.rows) in the search file, "
            line += file.cells > 0 ? "partitioned into \(file.cells) cells (a search scans the \(file.probes) nearest the query)"
                : "not partitioned (a search scans every vector)"
            if file.newer > 0 { line += "; \(file.newer) added since, scanned whole by every search until the file is written again" }
            lines.append(line)
        } else if status.embeddings > 0 {
            lines.append("Vectors:  no search file yet (the next search writes it)")
        }
        if let run = status.lastRun {
            var line = "Last run: \(run.status.rawValue)\(status.writer.map { " (process \($0))" } ?? ""), started \(Self.localTime(run.startedAt))"
            if run.status == .interrupted && run.finishedAt == nil {
                line += "; its process ended without finishing it (killed, or stopped by a full disk?); the next run continues"
            } else if run.status != .running {
                let summary = run.summary
                line += ", \(String(format: "%.1f", summary.seconds)) s: \(summary.added) added, \(summary.updated) updated, "
                line += "\(summary.unchanged) unchanged, \(summary.moved) moved, \(summary.removed) removed, \(summary.failed) failed"
            }
            lines.append(line)
        } else {
            lines.append("Last run: never")
        }
        if !status.failures.isEmpty {
            lines.append("Failed photos\(status.failed > status.failures.count ? " (latest \(status.failures.count))" : ""):")
            lines += status.failures.map { "  \(FilePaths.displayed($0.path)): \($0.reason)" }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// `status --json`: absent parts are null, not missing.
struct StatusJSON: Encodable {
    struct Model: Encodable {
        let name: String
        let embeddingSize: Int
        let precision: String
        let checksum: String

        enum CodingKeys: String, CodingKey { case name, checksum, precision, embeddingSize = "embedding_size" }
    }

    struct Run: Encodable {
        let run: RunRecord

        private enum Keys: String, CodingKey {
            case startedAt = "started_at", finishedAt = "finished_at", status
        }

        /// The run's times and status, then its summary's counts (as
        /// `index --json` writes them).
        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(run.startedAt, forKey: .startedAt)
            try container.encode(run.finishedAt, forKey: .finishedAt)
            try container.encode(run.status.rawValue, forKey: .status)
            try run.summary.encode(to: encoder)
        }
    }

    struct Folder: Encodable {
        let path: String
        let indexed: Int
        let failed: Int
    }

    struct Failed: Encodable {
        let path: String
        let error: String
    }

    let status: IndexStatus

    init(_ status: IndexStatus) {
        self.status = status
    }

    private enum Keys: String, CodingKey {
        case database, databaseBytes = "database_bytes", indexed, failed, folders, embeddings, model, lastRun = "last_run", failures
        case writerProcess = "writer_process", withPosition = "with_position", withPlace = "with_place", vectorFile = "vector_file"
    }

    struct VectorFile: Encodable {
        let file: IndexStatus.VectorFile

        private enum Keys: String, CodingKey { case rows, cells, probes, newer }

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(file.rows, forKey: .rows)
            try container.encode(file.cells, forKey: .cells)
            try container.encode(file.cells > 0 ? file.probes : nil, forKey: .probes)
            try container.encode(file.newer, forKey: .newer)
        }
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(status.path, forKey: .database)
        try container.encode(status.databaseBytes, forKey: .databaseBytes)
        try container.encode(status.indexed, forKey: .indexed)
        try container.encode(status.failed, forKey: .failed)
        try container.encode(status.folders.map { Folder(path: FilePaths.unicodeText($0.path), indexed: $0.indexed, failed: $0.failed) },
                             forKey: .folders)
        try container.encode(status.embeddings, forKey: .embeddings)
        try container.encode(status.withPosition, forKey: .withPosition)
        try container.encode(status.withPlace, forKey: .withPlace)
        try container.encode(status.model.map { Model(name: $0.name, embeddingSize: $0.embeddingSize, precision: $0.precision.rawValue,
                                                       checksum: $0.checksum) },
                             forKey: .model)
        try container.encode(status.lastRun.map(Run.init), forKey: .lastRun)
        try container.encode(status.failures.map { Failed(path: FilePaths.unicodeText($0.path), error: $0.reason) }, forKey: .failures)
        try container.encode(status.writer, forKey: .writerProcess)
        try container.encode(status.vectorFile.map(VectorFile.init), forKey: .vectorFile)
    }
}
