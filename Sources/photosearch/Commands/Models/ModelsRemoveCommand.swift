import ArgumentParser
import ModelHub

struct ModelsRemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Delete an installed model.")

    @Argument(help: "The installed model's name.", completion: Completions.installedModels)
    var name: String

    func run() throws {
        try Failure.reporting {
            if let next = try ModelStore.standard().remove(name) {
                Terminal.error("photosearch: \(next) is now the default model\n")
            }
        }
    }
}
