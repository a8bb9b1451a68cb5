import Dispatch
import Foundation

/// Splitting work across the machine's cores.
public enum Parallel {
    /// The cores this process may run on (its CPU affinity), counted once.
    public static let cores: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Runs `body(0..<parts)`, concurrently when there is more than one part.
    public static func run(_ parts: Int, _ body: @Sendable (Int) -> Void) {
        if parts <= 1 {
            body(0)
        } else {
            DispatchQueue.concurrentPerform(iterations: parts, execute: body)
        }
    }
}

/// A pointer handed to the worker threads of `Parallel.run`. Unchecked
/// because the compiler cannot see what makes the hand-over safe: the caller
/// keeps the memory alive until `run` returns, and the workers only read it.
public struct SendablePointer<Pointee>: @unchecked Sendable {
    public let pointer: UnsafePointer<Pointee>
    public init(_ pointer: UnsafePointer<Pointee>) { self.pointer = pointer }
}

/// A pointer to memory the workers of `Parallel.run` write. Unchecked for the
/// same reason as `SendablePointer`; each worker writes a disjoint region.
public struct SendableMutablePointer<Pointee>: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Pointee>
    public init(_ pointer: UnsafeMutablePointer<Pointee>) { self.pointer = pointer }
}
