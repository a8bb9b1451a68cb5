import ArgumentParser
import ModelHub

struct ModelsDefaultCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "default", abstract: "Choose the model used when no --model is given.")

    @Argument(help: "The installed model's name.", completion: Completions.installedModels)
    var name: String

    func run() throws {
        try Failure.reporting {
            try ModelStore.standard().setDefault(name)
            Terminal.error("photosearch: \(name) is now the default model\n")
        }
    }
}
