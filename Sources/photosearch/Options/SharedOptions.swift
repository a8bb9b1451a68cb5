import ArgumentParser
import Foundation
import PhotoIndex

/// --db, shared by every command that reads or writes an index.
struct DatabaseOption: ParsableArguments {
    @Option(name: .long, help: "Index database (default: $PHOTOSEARCH_DB, else $XDG_DATA_HOME/photosearch/index.sqlite).")
    var db: String?

    var path: String { IndexDatabase.defaultPath(explicit: db) }
}

/// --model, shared by every command that runs the encoder.
struct ModelOption: ParsableArguments {
    @Option(name: .long, help: "Model directory, open_clip or transformers layout (default: $PHOTOSEARCH_MODEL).")
    var model: String?

    /// The model directory, or the exit for "no model".
    func directory() throws -> String {
        if let model, !model.isEmpty { return model }
        if let fromEnvironment = ProcessInfo.processInfo.environment["PHOTOSEARCH_MODEL"], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        throw Failure.exit(PhotoIndexError.noModel, code: ExitStatus.noModel)
    }
}

/// Exit statuses, following sysexits(3) where one fits.
enum ExitStatus {
    static let failure: Int32 = 1
    static let noModel: Int32 = 2
    static let usage: Int32 = 64
    static let ioError: Int32 = 74          // EX_IOERR: the disk is full
    static let busy: Int32 = 75             // EX_TEMPFAIL: another writer holds the index
    static let interrupted: Int32 = 130     // 128 + SIGINT
    static let terminated: Int32 = 143      // 128 + SIGTERM

    static func code(for error: Error) -> Int32 {
        switch error as? PhotoIndexError {
        case .writerBusy?: return busy
        case .diskFull?: return ioError
        case .noModel?: return noModel
        default: return failure
        }
    }
}
