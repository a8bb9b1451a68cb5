import ArgumentParser
import ModelHub

struct ModelsImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Copy a model folder you already have (open_clip or transformers layout) into the store, after checking it works.")

    @Argument(help: "The model folder.", completion: .directory)
    var directory: String

    @Option(name: .long, help: "Name to install it under (default: the folder's name).")
    var name: String?

    func run() throws {
        try Failure.reporting {
            let model = try ModelStore.standard().importModel(from: directory, name: name)
            Terminal.error("photosearch: imported \(model.name) into \(model.path)\(model.isDefault ? " (the default model)" : "")\n")
        }
    }
}
