import CKernels
import Dispatch
import Foundation

/// Splitting work across the machine's cores.
public enum Parallel {
    /// The cores this process may run on (its CPU affinity), counted once.
    public static let cores: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// The stack every thread needs: the encoders' deepest calls take more
    /// than 256 KB.
    public static let threadStack = 8 << 20

    /// Gives this thread's stack room to grow to `threadStack` (raising a
    /// lower soft stack limit, as far as the hard one allows) and threads
    /// started from now on (the pool's, libdispatch's) stacks as large:
    /// their default is the stack limit, and `ulimit -s 256` was a SIGSEGV
    /// with no message. Call first thing, before threads are started.
    public static func ensureThreadStacks() {
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_STACK.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max, limit.rlim_cur < rlim_t(threadStack) {
            limit.rlim_cur = limit.rlim_max == rlim_t.max ? rlim_t(threadStack) : min(limit.rlim_max, rlim_t(threadStack))
            _ = setrlimit(__rlimit_resource_t(RLIMIT_STACK.rawValue), &limit)
        }
        ps_ensure_thread_stacks(threadStack)
    }

    /// Runs `body(0..<parts)`, concurrently when there is more than one part:
    /// on the kernels' worker pool (threads that stay awake ~100 µs between
    /// loops, see ps_parallel_run), or through libdispatch when the pool is
    /// busy with another thread's loop. A loop inside one runs its parts one
    /// after another on the thread that asks: every core already has a part
    /// of the outer loop.
    public static func run(_ parts: Int, _ body: @Sendable (Int) -> Void) {
        guard parts > 1 else {
            if parts == 1 { body(0) }
            return
        }
        let status = withoutActuallyEscaping(body) { escaping in
            var task = escaping
            return withUnsafeMutablePointer(to: &task) { pointer in
                ps_parallel_run(Int32(clamping: cores), parts, { context, part in
                    context!.assumingMemoryBound(to: (@Sendable (Int) -> Void).self).pointee(part)
                }, pointer)
            }
        }
        switch status {
        case 0: break
        case -2: for part in 0..<parts { body(part) }
        default: DispatchQueue.concurrentPerform(iterations: parts, execute: body)
        }
    }

    /// How work over `units` (rows, panels, blocks) is split across the
    /// cores, the one policy every parallel loop follows: contiguous ranges
    /// of as equal a size as whole units allow, at most one per core and
    /// never an empty one; a single range when `work` (the loop's cost, in
    /// the caller's unit: multiply-adds, elements, bytes) is below
    /// `minimumWork`, the break-even point measured for that loop, under
    /// which waking a second thread costs more than it saves.
    public static func ranges(of units: Int, work: Int, minimumWork: Int) -> [Range<Int>] {
        guard units > 0 else { return [] }
        let parts = work < minimumWork ? 1 : min(cores, units)
        let size = (units + parts - 1) / parts
        return stride(from: 0, to: units, by: size).map { $0..<min(units, $0 + size) }
    }

    /// Runs `body(part, range)` for each of `ranges` (from `ranges(of:…)`),
    /// concurrently when there is more than one.
    public static func run(_ ranges: [Range<Int>], _ body: @Sendable (_ part: Int, _ range: Range<Int>) -> Void) {
        run(ranges.count) { part in body(part, ranges[part]) }
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
