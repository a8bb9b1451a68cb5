import ArgumentParser
import FileAccess
import Foundation
import ModelHub

/// What a shell completes where (`photosearch --generate-completion-script
/// bash|zsh|fish`): paths where paths go, photos where a photo goes,
/// installed models' names (or a model folder) after --model, the
/// catalogue's names after `models install`.
enum Completions {
    /// Photo files, either case (and folders on the way to them).
    static let photos = CompletionKind.file(extensions: ["jpg", "jpeg", "png", "webp", "heic", "heif", "JPG", "JPEG", "PNG", "WEBP", "HEIC", "HEIF"])

    /// An installed model's name, or a folder.
    static let models = CompletionKind.custom { _, _, prefix in installed(prefix) + folders(prefix) }

    /// An installed model's name.
    static let installedModels = CompletionKind.custom { _, _, prefix in installed(prefix) }

    /// A name from the catalogue.
    static let catalogue = CompletionKind.list(ModelCatalogue.entries.map(\.name))

    static func installed(_ prefix: String) -> [String] {
        ModelStore.standard().installedNames().filter { $0.hasPrefix(prefix) }
    }

    /// The folders whose paths start with `prefix` ("~/" is the home
    /// folder); hidden ones only when the name typed starts with ".".
    static func folders(_ prefix: String) -> [String] {
        let slash = prefix.lastIndex(of: "/")
        let typedFolder = slash.map { String(prefix[...$0]) } ?? ""
        let start = slash.map { String(prefix[prefix.index(after: $0)...]) } ?? prefix
        let folder = FilePaths.expandingTilde(typedFolder)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.isEmpty ? "." : folder)) ?? []
        return names.filter { name in
            var isDirectory: ObjCBool = false
            return name.hasPrefix(start) && (start.hasPrefix(".") || !name.hasPrefix("."))
                && FileManager.default.fileExists(atPath: (folder.isEmpty ? "" : folder) + name, isDirectory: &isDirectory) && isDirectory.boolValue
        }.sorted().map { typedFolder + $0 }
    }
}
