import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Splitting work across the machine's cores.
enum Parallel {
    /// One worker per online core.
    static let threads: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    /// Runs `body(0..<parts)`, concurrently when there is more than one part.
    static func run(_ parts: Int, _ body: @Sendable (Int) -> Void) {
        if parts <= 1 {
            body(0)
        } else {
            DispatchQueue.concurrentPerform(iterations: parts, execute: body)
        }
    }
}

/// Raw pointers handed to worker threads that write disjoint regions.
struct UnsafeMutableSendablePointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    init(_ pointer: UnsafeMutablePointer<Float>) { self.pointer = pointer }
}

struct UnsafeSendablePointer: @unchecked Sendable {
    let pointer: UnsafePointer<Float>
    init(_ pointer: UnsafePointer<Float>) { self.pointer = pointer }
}
