import ArgumentParser
import CLIP
import Foundation
import ModelHub

/// --model, shared by every command that may run the encoder.
struct ModelOption: ParsableArguments {
    @Option(name: .long, help: "Model: an installed model's name or a model folder (default: $PHOTOSEARCH_MODEL, else the default installed model).", completion: Completions.models)
    var model: String?

    /// The model folder, or nil when none is installed (the library says so,
    /// with how to get one, if the job needs a model). A named model that is
    /// not installed is an error (exit status 2).
    func directory() throws -> String? {
        let requested = model ?? ProcessInfo.processInfo.environment["PHOTOSEARCH_MODEL"].flatMap { $0.isEmpty ? nil : $0 }
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
