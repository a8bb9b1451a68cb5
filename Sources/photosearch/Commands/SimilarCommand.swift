import ArgumentParser
import PhotoIndex

struct SimilarCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "similar",
        abstract: "Find the indexed photos most like a photo (indexed or not)."
    )

    @Argument(help: "A photo file.", completion: Completions.photos)
    var photo: String

    @OptionGroup var database: DatabaseOption
    @OptionGroup var model: ModelOption
    @OptionGroup var results: ResultOptions

    func validate() throws {
        // (An empty path would resolve to the current folder.)
        if photo.isEmpty { throw ValidationError("The photo's path is empty.") }
    }

    func run() throws {
        try Failure.reporting {
            let library = PhotoLibrary(database: database.path, model: try model.directory(index: database.path), prepared: model.prepared)
            try results.print(try library.similar(to: photo, try results.searchOptions()))
            ResultOptions.noteUnembedded(library)
        }
    }
}
