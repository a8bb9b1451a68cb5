import CLIP
import Foundation
import TestSupport

/// Random models for the benchmarks, written once as open_clip checkpoints
/// (`RandomCheckpoint`) into the temporary folder and loaded as a user's
/// model is.
enum RandomModel {
    /// The configuration of a named shape (`EncoderBenchmark.shapes`).
    static func configuration(shape: String) throws -> ModelConfiguration {
        guard let configuration = EncoderBenchmark.shapes[shape] else {
            throw BenchmarkError.invalidArgument("unknown shape \(shape) (known: \(EncoderBenchmark.shapes.keys.sorted().joined(separator: ", ")))")
        }
        return configuration
    }

    /// Whether `folder` holds a written model (its weights, in either layout).
    static func isWritten(_ folder: String) -> Bool {
        ["open_clip_model.safetensors", "model.safetensors"].contains { FileManager.default.fileExists(atPath: folder + "/" + $0) }
    }

    /// The folder of a random model of `configuration` holding `towers`,
    /// drawn from `seed`: written on first use, reused after.
    static func folder(_ configuration: ModelConfiguration, towers: CLIPModel.Towers, seed: UInt64 = 1) throws -> String {
        var family = configuration.vision.architecture == .siglip ? "siglip-\(configuration.vision.imageSize)-" : ""
        if case let .fastvit(tower) = configuration.vision.architecture { family = tower + "-" }
        if case let .timm(tower) = configuration.vision.architecture { family = tower + "-" }
        let name = "photosearch-bench-model-\(family)"
            + "\(configuration.embeddingSize)-\(configuration.vision.transformer.width)x"
            + "\(configuration.vision.transformer.layers)-\(configuration.text.transformer.width)x\(configuration.text.transformer.layers)"
            + "-\(towers == .both ? "both" : towers == .image ? "image" : "text")-\(seed)"
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(name).path
        if !isWritten(folder) {
            let staging = folder + ".tmp-\(getpid())"
            try RandomCheckpoint.write(configuration, towers: towers, to: staging, seed: seed)
            try? FileManager.default.removeItem(atPath: folder)
            try FileManager.default.moveItem(atPath: staging, toPath: folder)
        }
        return folder
    }

    /// That model, loaded in `precision` as the programs load a model: its
    /// towers prepared once (beside it) and mapped from then on.
    static func load(_ configuration: ModelConfiguration, seed: UInt64 = 1, precision: Precision) throws -> CLIPModel {
        let folder = try folder(configuration, towers: .both, seed: seed)
        return try CLIPModel(directory: folder, precision: precision, prepared: PreparedWeightsCache(directory: folder + "-prepared"))
    }
}
