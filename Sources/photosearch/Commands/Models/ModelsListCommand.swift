import ArgumentParser
import ModelHub

struct ModelsListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Show installed and available models.")

    func run() throws {
        let store = ModelStore.standard()
        let installed = store.installed()
        // (One name column for both lists, as wide as their longest name.)
        let names = max(24, (installed.map(\.name.count) + ModelCatalogue.entries.map(\.name.count)).max() ?? 0)
        var output = "Installed (\(store.root)):\n"
        if installed.isEmpty { output += "  none yet; install one below, or: photosearch models import DIR\n" }
        for model in installed {
            let origin = model.manifest.flatMap { $0.repository } ?? (model.manifest?.source == "import" ? "imported" : "")
            output += "  \(model.isDefault ? "*" : " ") \(Self.column(model.name, names))  \(Self.column(ByteCount.format(model.bytes), 9))  \(origin)\n"
        }
        output += "\nAvailable (photosearch models install NAME):\n"
        for entry in ModelCatalogue.entries {
            let state: String
            switch store.state(of: entry, among: installed) {
            case .installed: state = "installed"
            case .nameTaken: state = "name used by another model"
            case .available: state = ByteCount.format(entry.downloadBytes)
            }
            let suggested = entry.name == ModelCatalogue.defaultName ? " (suggested for speed)"
                : entry.name == ModelCatalogue.bestResultsName ? " (suggested for the best results)" : ""
            output += "  \(Self.column(entry.name, names))  \(Self.column(state, 9))  \(entry.summary); \(entry.repository), "
            output += "\(entry.layout.rawValue) layout, \(entry.licence) licence\(suggested)\n"
        }
        output += "\n* the default model, used when no --model is given\n"
        Terminal.output(output)
    }

    private static func column(_ text: String, _ width: Int) -> String {
        text.padding(toLength: max(width, text.count), withPad: " ", startingAt: 0)
    }
}
