import ArgumentParser
import ModelHub

struct ModelsInstallCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Download a model from the Hugging Face Hub (resumable, checksummed).")

    @Argument(help: "A model name from 'photosearch models list'.", completion: Completions.catalogue)
    var name: String

    func run() throws {
        let downloader: ModelDownloader
        do {
            downloader = try ModelDownloader.standard()
        } catch {
            throw Failure.exit(error)
        }
        let installer = ModelInstaller(store: ModelStore.standard(), downloader: downloader)
        let bar = DownloadBar()
        do {
            let model = try installer.install(name, progress: bar.update)
            bar.finish()
            let defaultNote = model.isDefault ? " (the default model)" : "; make it the default with: photosearch models default \(name)"
            Terminal.error("photosearch: installed \(name) in \(model.path)\(defaultNote)\n")
        } catch {
            bar.finish()
            if case .alreadyInstalled = error {
                Terminal.error("photosearch: \(error.localizedDescription)\n")
                return
            }
            throw Failure.exit(error)
        }
    }
}
