import ArgumentParser

struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "Install, import, list and choose CLIP models.",
        discussion: "Only 'models install' uses the network; everything else in photosearch works offline.",
        subcommands: [ModelsListCommand.self, ModelsInstallCommand.self, ModelsImportCommand.self,
                      ModelsRemoveCommand.self, ModelsDefaultCommand.self],
        defaultSubcommand: ModelsListCommand.self
    )
}
