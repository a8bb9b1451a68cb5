import Foundation

/// A blocking FIFO of limited capacity between threads: `put` waits while it
/// is full, `take` waits while it is empty and returns nil once every
/// producer has called `finish` and the queue is drained. The capacity is
/// what bounds the indexer's memory, whatever the folder's size.
///
/// Unchecked Sendable: every stored variable is read and written only with
/// `condition` locked (a condition variable, which `Mutex` does not offer).
final class BoundedQueue<Element>: @unchecked Sendable {
    private let condition = NSCondition()
    /// Taken elements are set to nil at once: a reference kept here would
    /// keep a decoded photo's pixels alive after the indexer is done with them.
    private var items: [Element?] = []
    private var head = 0
    private let capacity: Int
    private var producers: Int
    private var closed = false

    init(capacity: Int, producers: Int) {
        self.capacity = max(1, capacity)
        self.producers = producers
    }

    private var count: Int { items.count - head }

    /// Adds an element; returns false if the queue was closed meanwhile.
    @discardableResult
    func put(_ element: Element) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while count >= capacity && !closed { condition.wait() }
        guard !closed else { return false }
        items.append(element)
        condition.broadcast()
        return true
    }

    func take() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while count == 0 && producers > 0 && !closed { condition.wait() }
        guard count > 0, !closed else { return nil }
        let element = items[head]
        items[head] = nil
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= capacity {
            items.removeFirst(head)
            head = 0
        }
        condition.broadcast()
        return element!
    }

    /// One producer is done.
    func finish() {
        condition.lock()
        producers -= 1
        condition.broadcast()
        condition.unlock()
    }

    /// Wakes everyone and discards what is queued (cancellation).
    func close() {
        condition.lock()
        closed = true
        items.removeAll()
        head = 0
        condition.broadcast()
        condition.unlock()
    }
}
