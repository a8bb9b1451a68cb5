import ArgumentParser
import CLIP
import Foundation

struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "Install, import, list and choose CLIP models.",
        discussion: "Only 'models install' uses the network; everything else in photosearch works offline.",
        subcommands: [ModelsList.self, ModelsInstall.self, ModelsImport.self, ModelsRemove.self, ModelsDefault.self],
        defaultSubcommand: ModelsList.self
    )
}

struct ModelsList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Show installed and available models.")

    func run() throws {
        let store = ModelStore.standard()
        let installed = store.installed()
        var output = "Installed (\(store.root)):\n"
        if installed.isEmpty { output += "  none yet; install one below, or: photosearch models import DIR\n" }
        for model in installed {
            let origin = model.manifest.flatMap { $0.repository } ?? (model.manifest?.source == "import" ? "imported" : "")
            output += String(format: "  %@ %@  %@  %@\n", model.isDefault ? "*" : " ",
                             model.name.padding(toLength: 24, withPad: " ", startingAt: 0),
                             ByteCount.format(model.bytes).padding(toLength: 9, withPad: " ", startingAt: 0), origin)
        }
        output += "\nAvailable (photosearch models install NAME):\n"
        for entry in ModelCatalogue.entries {
            let state = installed.contains { $0.name == entry.name } ? "installed" : ByteCount.format(entry.downloadBytes)
            output += "  \(entry.name.padding(toLength: 24, withPad: " ", startingAt: 0))  \(state.padding(toLength: 9, withPad: " ", startingAt: 0))  \(entry.summary); \(entry.repository), \(entry.layout.rawValue) layout, \(entry.licence) licence\(entry.name == ModelCatalogue.defaultName ? " (suggested)" : "")\n"
        }
        output += "\n* the default model, used when no --model is given\n"
        print(output, terminator: "")
    }
}

struct ModelsInstall: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Download a model from the Hugging Face Hub (resumable, checksummed).")

    @Argument(help: "A model name from 'photosearch models list'.")
    var name: String

    func run() throws {
        let store = ModelStore.standard()
        let installer = ModelInstaller(store: store, downloader: ModelDownloader())
        let bar = DownloadBar()
        do {
            let model = try installer.install(name, progress: bar.update)
            bar.finish()
            let defaultNote = model.isDefault ? " (the default model)" : "; make it the default with: photosearch models default \(name)"
            FileHandle.standardError.write(Data("photosearch: installed \(name) in \(model.path)\(defaultNote)\n".utf8))
        } catch {
            bar.finish()
            if case .alreadyInstalled = error {
                FileHandle.standardError.write(Data("photosearch: \(error.localizedDescription)\n".utf8))
                return
            }
            throw Failure.exit(error)
        }
    }
}

struct ModelsImport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Copy a model folder you already have (open_clip or transformers layout) into the store, after checking it works.")

    @Argument(help: "The model folder.")
    var directory: String

    @Option(name: .long, help: "Name to install it under (default: the folder's name).")
    var name: String?

    func run() throws {
        do {
            let model = try ModelStore.standard().importModel(from: directory, name: name)
            FileHandle.standardError.write(Data("photosearch: imported \(model.name) into \(model.path)\(model.isDefault ? " (the default model)" : "")\n".utf8))
        } catch {
            throw Failure.exit(error)
        }
    }
}

struct ModelsRemove: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Delete an installed model.")

    @Argument(help: "The installed model's name.")
    var name: String

    func run() throws {
        do {
            try ModelStore.standard().remove(name)
        } catch {
            throw Failure.exit(error)
        }
    }
}

struct ModelsDefault: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "default", abstract: "Choose the model used when no --model is given.")

    @Argument(help: "The installed model's name.")
    var name: String

    func run() throws {
        do {
            try ModelStore.standard().setDefault(name)
        } catch {
            throw Failure.exit(error)
        }
    }
}

/// A download progress line on a terminal (standard error); silent otherwise.
final class DownloadBar: @unchecked Sendable {
    private let live = isatty(STDERR_FILENO) == 1
    private let lock = NSLock()
    private var shown = false

    func update(_ progress: ModelDownloader.Progress) {
        guard live else { return }
        lock.lock()
        defer { lock.unlock() }
        var text = "downloading \(progress.file)  \(ByteCount.format(progress.receivedBytes))"
        if let total = progress.totalBytes, total > 0 {
            let fraction = min(1, Double(progress.receivedBytes) / Double(total))
            let filled = Int(fraction * 24)
            text = "downloading \(progress.file) [" + String(repeating: "#", count: filled) + String(repeating: ".", count: 24 - filled)
                + "] \(ByteCount.format(progress.receivedBytes))/\(ByteCount.format(total))"
            if progress.bytesPerSecond > 0 {
                text += "  \(ByteCount.format(Int64(progress.bytesPerSecond)))/s  ETA \(ProgressReporter.clock(Double(total - progress.receivedBytes) / progress.bytesPerSecond))"
            }
        }
        FileHandle.standardError.write(Data("\r\u{1B}[K\(text)".utf8))
        shown = true
    }

    func finish() {
        lock.lock()
        defer { lock.unlock() }
        if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        shown = false
    }
}
