import ArgumentParser
import Foundation
import PhotoIndex

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show what an index holds: photos, failures, model, size, last run."
    )

    @OptionGroup var database: DatabaseOption

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    func run() throws {
        let status: IndexStatus
        do {
            status = try IndexStatus.read(try IndexDatabase(path: database.path, create: false))
        } catch {
            throw Failure.exit(error, code: ExitStatus.code(for: error))
        }
        if json {
            print(Self.json(status))
        } else {
            print(Self.text(status), terminator: "")
        }
    }

    static func json(_ status: IndexStatus) -> String {
        let model = status.model.map { model in
            JSONText.object(["name": JSONText.string(model.name), "embedding_size": "\(model.embeddingSize)",
                             "checksum": JSONText.string(model.checksum)])
        } ?? "null"
        let run = status.lastRun.map { run in
            JSONText.object([
                "started_at": JSONText.string(run.startedAt), "finished_at": run.finishedAt.map(JSONText.string) ?? "null",
                "status": JSONText.string(run.status.rawValue), "scanned": "\(run.scanned)", "added": "\(run.added)",
                "updated": "\(run.updated)", "unchanged": "\(run.unchanged)", "moved": "\(run.moved)",
                "removed": "\(run.removed)", "failed": "\(run.failed)", "seconds": JSONText.number(run.seconds),
            ])
        } ?? "null"
        let failures = "[" + status.failures.map {
            JSONText.object(["path": JSONText.string($0.path), "error": JSONText.string($0.reason)])
        }.joined(separator: ",") + "]"
        return JSONText.object([
            "database": JSONText.string(status.path), "database_bytes": "\(status.databaseBytes)",
            "indexed": "\(status.indexed)", "failed": "\(status.failed)", "embeddings": "\(status.embeddings)",
            "model": model, "last_run": run, "failures": failures,
        ])
    }

    static func text(_ status: IndexStatus) -> String {
        var lines: [String] = []
        lines.append("Index:    \(status.path) (\(ByteCount.format(status.databaseBytes)))")
        lines.append("Photos:   \(status.indexed) indexed, \(status.failed) failed")
        if let model = status.model {
            lines.append("Model:    \(model.name), \(model.embeddingSize)-d embeddings, \(model.checksum)")
        } else {
            lines.append("Model:    none yet")
        }
        if let run = status.lastRun {
            var line = "Last run: \(run.status.rawValue), started \(run.startedAt)"
            if run.status != .running {
                line += ", \(String(format: "%.1f", run.seconds)) s: \(run.added) added, \(run.updated) updated, "
                line += "\(run.unchanged) unchanged, \(run.moved) moved, \(run.removed) removed, \(run.failed) failed"
            }
            lines.append(line)
        } else {
            lines.append("Last run: never")
        }
        if !status.failures.isEmpty {
            lines.append("Failed photos\(status.failed > status.failures.count ? " (latest \(status.failures.count))" : ""):")
            lines += status.failures.map { "  \($0.path): \($0.reason)" }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

enum ByteCount {
    static func format(_ bytes: Int64) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = Double(bytes), unit = 0
        while value >= 1000 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }
}
