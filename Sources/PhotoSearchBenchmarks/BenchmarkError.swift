import Foundation

/// A benchmark that could not measure what it set out to.
public enum BenchmarkError: LocalizedError, Equatable, Sendable {
    case cannotPrepare(path: String, reason: String)
    case incompleteRun(String)
    case invalidArgument(String)

    public var errorDescription: String? {
        switch self {
        case let .cannotPrepare(path, reason): return "cannot prepare \(path): \(reason)"
        case let .incompleteRun(reason): return "the benchmark run did not complete: \(reason)"
        case let .invalidArgument(reason): return reason
        }
    }
}
