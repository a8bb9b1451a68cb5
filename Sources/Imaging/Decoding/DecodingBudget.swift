import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A limit on the pixel memory all decodes in the process hold at once
/// (indexing threads, a server's uploads): a decode reserves its output's
/// bytes before allocating them and waits, first come first served, while
/// others hold the budget. One decode larger than the whole budget runs
/// alone. (The per-image pixel cap alone let three 250-megapixel PNGs take
/// 5.9 GB at once.)
public final class DecodingBudget: Sendable {
    public let bytes: Int

    private struct State {
        var used = 0
        var waiting: [(bytes: Int, wake: DispatchSemaphore)] = []
    }

    private let state = Mutex(State())

    public init(bytes: Int) {
        precondition(bytes > 0)
        self.bytes = bytes
    }

    /// A quarter of the machine's memory, between 256 MB and 2 GB.
    public static let standard: DecodingBudget = {
        let physical = Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
        return DecodingBudget(bytes: min(max(physical / 4, 256 << 20), 2 << 30))
    }()

    /// Waits until `count` bytes can be held; they are released when the
    /// returned token is.
    public func reserve(_ count: Int) -> Reservation {
        let wake: DispatchSemaphore? = state.withLock { state in
            if state.waiting.isEmpty && (state.used + count <= bytes || state.used == 0) {
                state.used += count
                return nil
            }
            let wake = DispatchSemaphore(value: 0)
            state.waiting.append((count, wake))
            return wake
        }
        wake?.wait()    // `release` counted our bytes in before waking us
        return Reservation(budget: self, bytes: count)
    }

    fileprivate func release(_ count: Int) {
        let woken: [DispatchSemaphore] = state.withLock { state in
            state.used -= count
            var woken: [DispatchSemaphore] = []
            while let next = state.waiting.first, state.used + next.bytes <= bytes || state.used == 0 {
                state.waiting.removeFirst()
                state.used += next.bytes
                woken.append(next.wake)
            }
            return woken
        }
        woken.forEach { $0.signal() }
    }

    /// Bytes held now (for tests).
    var used: Int { state.withLock { $0.used } }

    /// Bytes held by a decode; given back when the last reference goes.
    public final class Reservation: Sendable {
        let budget: DecodingBudget
        public let bytes: Int

        init(budget: DecodingBudget, bytes: Int) {
            self.budget = budget
            self.bytes = bytes
        }

        deinit { budget.release(bytes) }
    }
}
