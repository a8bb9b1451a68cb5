import ArgumentParser
import ModelHub

struct ModelsRemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Delete an installed model.")

    @Argument(help: "The installed model's name.", completion: Completions.installedModels)
    var name: String

    func run() throws {
        try Failure.reporting {
            let store = ModelStore.standard()
            let bytes = store.installed().first { $0.name == name }?.bytes
            let next = try store.remove(name)
            Terminal.error("photosearch: removed \(name)\(bytes.map { " (\(ByteCount.format($0)) freed)" } ?? "")\n")
            if let next {
                Terminal.error("photosearch: \(next) is now the default model\n")
            }
        }
    }
}
