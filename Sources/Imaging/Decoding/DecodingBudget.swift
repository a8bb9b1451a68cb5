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
        var peak = 0
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
    /// returned token is. `replacing` is given back first: a decode that
    /// holds its file's bytes and now needs its pixels too never waits while
    /// holding part of the budget, so that two such decodes cannot wait for
    /// each other.
    public func reserve(_ count: Int, replacing held: Reservation? = nil) -> Reservation {
        held?.shrink(to: 0)
        let wake: DispatchSemaphore? = state.withLock { state in
            if state.waiting.isEmpty && (state.used + count <= bytes || state.used == 0) {
                state.used += count
                state.peak = max(state.peak, state.used)
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
                state.peak = max(state.peak, state.used)
                woken.append(next.wake)
            }
            return woken
        }
        woken.forEach { $0.signal() }
    }

    /// Bytes held now (for tests).
    var used: Int { state.withLock { $0.used } }
    /// The most bytes held at once so far (for tests).
    var peak: Int { state.withLock { $0.peak } }

    /// Bytes held by a decode; given back when the last reference goes, or
    /// in part earlier (`shrink`).
    public final class Reservation: Sendable {
        let budget: DecodingBudget
        private let held: Mutex<Int>

        init(budget: DecodingBudget, bytes: Int) {
            self.budget = budget
            held = Mutex(bytes)
        }

        /// The bytes held now.
        public var bytes: Int { held.withLock { $0 } }

        /// Gives back all but `count` bytes (a decode's working memory once
        /// it is done, leaving its pixels).
        public func shrink(to count: Int) {
            let released = held.withLock { held -> Int in
                let released = max(held - max(count, 0), 0)
                held -= released
                return released
            }
            if released > 0 { budget.release(released) }
        }

        deinit { shrink(to: 0) }
    }
}
