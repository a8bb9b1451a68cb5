import Foundation

/// Everything that can go wrong choosing kernels or mapping a file.
public enum ComputeError: LocalizedError, Equatable, Sendable {
    case unknownKernelPath(String, known: [String])
    case unsupportedKernelPath(KernelPath, supported: [String])
    case cannotRead(path: String, reason: String)

    public var errorDescription: String? {
        switch self {
        case let .unknownKernelPath(name, known):
            return "\(KernelPath.environmentVariable)=\(name) is not a kernel path; use one of: \(known.joined(separator: ", "))"
        case let .unsupportedKernelPath(path, supported):
            return "\(KernelPath.environmentVariable)=\(path.rawValue): this CPU cannot run it; it runs: \(supported.joined(separator: ", "))"
        case let .cannotRead(path, reason):
            return "cannot read \(path): \(reason)"
        }
    }
}
