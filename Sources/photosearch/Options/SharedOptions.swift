import ArgumentParser
import CLIP
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
    @Option(name: .long, help: "Model: an installed model's name or a model folder (default: $PHOTOSEARCH_MODEL, else the default installed model).")
    var model: String?

    /// The model directory, or the first-run explanation and exit status 2.
    func directory() throws -> String {
        let requested = model ?? ProcessInfo.processInfo.environment["PHOTOSEARCH_MODEL"].flatMap { $0.isEmpty ? nil : $0 }
        do {
            return try ModelStore.standard().resolve(requested)
        } catch ModelStoreError.noModelInstalled {
            FileHandle.standardError.write(Data("""
                photosearch: no model installed yet. Download one once (~600 MB): photosearch models install \(ModelCatalogue.defaultName)
                photosearch: or use a model folder you already have: photosearch models import DIR (see: photosearch models list)

                """.utf8))
            throw ExitCode(ExitStatus.noModel)
        } catch {
            throw Failure.exit(error, code: ExitStatus.noModel)
        }
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
        default: return failure
        }
    }
}
