import Foundation
import Testing
@testable import PhotoIndex

@Suite("The indexer's queue")
struct BoundedQueueTests {
    final class Payload: Sendable {
        let index: Int
        init(_ index: Int) { self.index = index }
    }

    @Test("an element taken is no longer held: the queue keeps at most its capacity alive")
    func releasesTakenElements() {
        let queue = BoundedQueue<Payload>(capacity: 4, producers: 1)
        weak var first: Payload?
        do {
            let payload = Payload(0)
            first = payload
            queue.put(payload)
        }
        #expect(first != nil)
        var taken: Payload? = queue.take()
        #expect(taken?.index == 0)
        taken = nil
        #expect(first == nil, "the queue still references an element it handed out")
        // Many elements through a small queue, in order, each released once taken.
        var watchers: [() -> Payload?] = []
        for index in 1...50 {
            let payload = Payload(index)
            watchers.append { [weak payload] in payload }
            queue.put(payload)
            #expect(queue.take()?.index == index)
        }
        #expect(watchers.allSatisfy { $0() == nil })
        queue.finish()
        #expect(queue.take() == nil)
    }
}
