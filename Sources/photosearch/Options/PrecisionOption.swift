import ArgumentParser
import CLIP
import Foundation

extension Precision: ExpressibleByArgument {}

/// --precision, shared by the commands that run the encoder to make
/// embeddings (index, embed).
struct PrecisionOption: ParsableArguments {
    @Option(name: .long, help: "Arithmetic of the encoder: int8 (the default) or fp32 (default: $PHOTOSEARCH_PRECISION, else int8).")
    var precision: Precision?

    static let environmentVariable = "PHOTOSEARCH_PRECISION"

    /// --precision, else $PHOTOSEARCH_PRECISION, else int8.
    func resolved(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Precision {
        if let precision { return precision }
        guard let value = environment[Self.environmentVariable], !value.isEmpty else { return .int8 }
        guard let precision = Precision(rawValue: value.lowercased()) else {
            throw ValidationError("\(Self.environmentVariable)=\(value) is not a precision; use int8 or fp32.")
        }
        return precision
    }
}
