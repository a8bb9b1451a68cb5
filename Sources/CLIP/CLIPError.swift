import Foundation

/// Everything that can go wrong loading or running a CLIP model. Each case
/// names the file and, where there is one, the tensor or field at fault.
public enum CLIPError: LocalizedError, Equatable, Sendable {
    case modelDirectoryNotFound(path: String)
    case notAModelDirectory(path: String)
    case missingFile(path: String)
    case cannotRead(path: String, reason: String)
    case cannotWrite(path: String, reason: String)
    case invalidConfiguration(path: String, reason: String)
    case unsupportedArchitecture(path: String, reason: String)
    case truncatedCheckpoint(path: String, reason: String)
    case invalidHeader(path: String, reason: String)
    /// A PyTorch archive that cannot be read (not a zip, truncated, a
    /// storage out of range…).
    case invalidPyTorchCheckpoint(path: String, reason: String)
    /// A PyTorch pickle that asks for anything but tensors.
    case pickleRefused(path: String, reason: String)
    case unknownDType(path: String, tensor: String, dtype: String)
    case tensorOutOfBounds(path: String, tensor: String, reason: String)
    case shapeMismatch(path: String, tensor: String, expected: [Int], actual: [Int])
    case missingTensors(path: String, names: [String])
    case unexpectedTensors(path: String, names: [String])
    case invalidVocabulary(path: String, reason: String)
    /// The model computes NaN or infinite embeddings (damaged weights).
    case nonFiniteEmbedding(path: String, tower: String)

    public var errorDescription: String? {
        switch self {
        case let .modelDirectoryNotFound(path):
            return "model directory \(path) does not exist"
        case let .notAModelDirectory(path):
            return "\(path) is not a CLIP model directory: it has neither open_clip_config.json (open_clip layout) nor config.json (Hugging Face transformers layout)"
        case let .missingFile(path):
            return "\(path) is missing"
        case let .cannotRead(path, reason):
            return "cannot read \(path): \(reason)"
        case let .cannotWrite(path, reason):
            return "cannot write \(path): \(reason)"
        case let .invalidConfiguration(path, reason):
            return "\(path): invalid configuration: \(reason)"
        case let .unsupportedArchitecture(path, reason):
            return "\(path): unsupported architecture: \(reason)"
        case let .truncatedCheckpoint(path, reason):
            return "\(path) is truncated: \(reason)"
        case let .invalidHeader(path, reason):
            return "\(path): invalid safetensors header: \(reason)"
        case let .invalidPyTorchCheckpoint(path, reason):
            return "\(path): not a PyTorch checkpoint photosearch can read: \(reason)"
        case let .pickleRefused(path, reason):
            return "\(path): refused: \(reason)"
        case let .unknownDType(path, tensor, dtype):
            return "\(path): tensor \(tensor) has unsupported dtype \(dtype) (supported: F32, F16, BF16)"
        case let .tensorOutOfBounds(path, tensor, reason):
            return "\(path): tensor \(tensor) \(reason)"
        case let .shapeMismatch(path, tensor, expected, actual):
            return "\(path): tensor \(tensor) has shape \(Self.shape(actual)), expected \(Self.shape(expected)) from the model configuration"
        case let .missingTensors(path, names):
            return "\(path): missing tensors: \(Self.list(names))"
        case let .unexpectedTensors(path, names):
            return "\(path): unexpected tensors (is this a supported CLIP ViT model?): \(Self.list(names))"
        case let .invalidVocabulary(path, reason):
            return "\(path): invalid tokenizer vocabulary: \(reason)"
        case let .nonFiniteEmbedding(path, tower):
            return "\(path): the \(tower) tower computes embeddings that are not finite (NaN or infinity); the weights are damaged"
        }
    }

    private static func shape(_ dims: [Int]) -> String {
        "[" + dims.map(String.init).joined(separator: ", ") + "]"
    }

    private static func list(_ names: [String]) -> String {
        let shown = names.prefix(8).joined(separator: ", ")
        return names.count > 8 ? "\(shown) and \(names.count - 8) more" : shown
    }
}
