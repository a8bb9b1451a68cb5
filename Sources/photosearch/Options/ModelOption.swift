import ArgumentParser
import CLIP
import Foundation
import ModelHub
import PhotoIndex

/// --model, shared by every command that may run the encoder.
struct ModelOption: ParsableArguments {
    @Option(name: .long, help: "Model: an installed model's name or a model folder (./NAME for a folder named as an installed model) (default: $PHOTOSEARCH_MODEL, else the model an existing index was built with, else the default installed model).", completion: Completions.models)
    var model: String?

    /// The model asked for: --model, else $PHOTOSEARCH_MODEL (nil: neither).
    var requested: String? {
        model ?? ProcessInfo.processInfo.environment["PHOTOSEARCH_MODEL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The model folder for a job on the index at `database`: the model
    /// asked for; else the one the index holds vectors of, from the folder
    /// its weights were last read from or installed under its name, so that
    /// an index keeps its model whatever the default is; else (no index yet,
    /// its model gone, or `replacing` it) the default installed model. When
    /// the index's model is gone it says so, before the default is tried
    /// (the same weights installed under another name serve; other ones are
    /// refused as another model, which alone read as if --model was given).
    func directory(index database: String, replacing: Bool = false) throws -> String? {
        if requested == nil, !replacing, let indexed = PhotoLibrary.indexedModel(database: database) {
            if let folder = indexed.folder { return folder }
            let store = ModelStore.standard()
            if store.isInstalled(indexed.name) { return store.path(of: indexed.name) }
            let fallback = try directory()
            if fallback != nil {
                Terminal.error("photosearch: this index's model, \(indexed.name), is no longer installed nor in the folder it was read from; "
                               + "trying the default model (photosearch models import DIR --name \(indexed.name) puts it back)\n")
            }
            return fallback
        }
        return try directory()
    }

    /// The model folder asked for, else the default installed model's; nil
    /// when none is installed (the library says so, with how to get one, if
    /// the job needs a model). A named model that is not installed is an
    /// error (exit status 2).
    func directory() throws -> String? {
        do {
            return try ModelStore.standard().resolve(requested)
        } catch .noModelInstalled {
            return nil
        } catch {
            throw Failure.exit(error, code: ExitStatus.noModel)
        }
    }

    /// The model folder; with none installed, how to get one and exit status 2.
    func requiredDirectory() throws -> String {
        guard let directory = try directory() else { throw Failure.noModel() }
        return directory
    }

    /// Where towers are kept ready-made: `prepared` in the cache folder
    /// (`$XDG_CACHE_HOME/photosearch`, else `~/.cache/photosearch`). Saying
    /// so when a tower is being prepared explains the one slow start.
    var prepared: PreparedWeightsCache {
        PreparedWeightsCache(directory: XDGDirectories().cache + "/prepared") { Terminal.error("photosearch: \($0)\n") }
    }
}
