import Foundation

/// Everything that can go wrong reading a photo.
public enum ImagingError: LocalizedError, Equatable, Sendable {
    case cannotRead(path: String, reason: String)
    /// A file larger than any photo read (not "cannot read": it stays so
    /// until it changes).
    case fileTooLarge(path: String, reason: String)
    case emptyFile(path: String)
    case unsupportedFormat(path: String)
    case corrupt(path: String, format: String, reason: String)
    case tooLarge(path: String, width: Int, height: Int, limit: Int)

    /// How `reason` begins when the file could not be opened or read (its
    /// content was never judged): a state that can pass without the file
    /// changing (permissions, a disk that comes back).
    public static let cannotReadPrefix = "cannot read: "

    /// The problem without the path, for records that already hold the path.
    public var reason: String {
        switch self {
        case let .cannotRead(_, reason): return Self.cannotReadPrefix + reason
        case let .fileTooLarge(_, reason): return reason
        case .emptyFile: return "empty file"
        case .unsupportedFormat: return "not a JPEG, PNG, WebP or HEIF image"
        case let .corrupt(_, format, reason): return "not a valid \(format) file: \(reason)"
        case let .tooLarge(_, width, height, limit): return "\(width)x\(height) pixels, \(Self.excess(width, height, limit))"
        }
    }

    public var errorDescription: String? {
        switch self {
        case let .cannotRead(path, reason):
            return "cannot read \(path): \(reason)"
        case let .fileTooLarge(path, reason):
            return "\(path): \(reason)"
        case let .emptyFile(path):
            return "\(path) is empty"
        case let .unsupportedFormat(path):
            return "\(path) is not a JPEG, PNG, WebP or HEIF image"
        case let .corrupt(path, format, reason):
            return "\(path) is not a valid \(format) file: \(reason)"
        case let .tooLarge(path, width, height, limit):
            return "\(path) is \(width)x\(height) pixels, \(Self.excess(width, height, limit))"
        }
    }

    /// Which limit an image is over: a side, or the pixels.
    private static func excess(_ width: Int, _ height: Int, _ limit: Int) -> String {
        max(width, height) > ImageDecoder.maximumSide
            ? "a side longer than \(ImageDecoder.maximumSide) pixels" : "above the limit of \(pixels(limit))"
    }

    private static func pixels(_ count: Int) -> String {
        count % 1_000_000 == 0 ? "\(count / 1_000_000) megapixels" : "\(count) pixels"
    }
}
