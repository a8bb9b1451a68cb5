import CKernels
import Glibc
import Compute
import Synchronization
import Testing

@Suite("Parallel: how loops are split across the cores")
struct ParallelTests {
    @Test("ranges cover every unit once, in order, none empty, at most one per core; one range under the threshold",
          arguments: [0, 1, 2, 3, 7, 64, 1000, 4097])
    func ranges(units: Int) {
        for (work, minimum) in [(0, 1), (10, 0), (1 << 20, 1 << 16)] {
            let ranges = Parallel.ranges(of: units, work: work, minimumWork: minimum)
            #expect(ranges.flatMap { Array($0) } == Array(0..<units))
            #expect(ranges.allSatisfy { !$0.isEmpty })
            #expect(ranges.count <= min(Parallel.cores, max(units, 0)))
            if work < minimum { #expect(ranges.count == min(units, 1)) }
            if work >= minimum { #expect(ranges.count == min(Parallel.cores, units)) }
            // Sizes differ by at most one range's rounding: none is larger than the first.
            #expect(ranges.allSatisfy { $0.count <= (ranges.first?.count ?? 0) })
        }
    }

    @Test("run visits every range once, with its part number")
    func run() {
        let ranges = Parallel.ranges(of: 1000, work: 1, minimumWork: 0)
        let seen = Mutex<[Int: Range<Int>]>([:])
        Parallel.run(ranges) { part, range in seen.withLock { $0[part] = range } }
        #expect(seen.withLock { $0 } == Dictionary(uniqueKeysWithValues: ranges.enumerated().map { ($0.offset, $0.element) }))
    }
}

@Suite("Parallel: the worker pool")
struct WorkerPoolTests {
    /// How many times each part ran.
    static func counts(_ parts: Int, _ run: (@escaping @Sendable (Int) -> Void) -> Void) -> [Int] {
        let counts = Mutex([Int](repeating: 0, count: parts))
        run { part in counts.withLock { $0[part] += 1 } }
        return counts.withLock { $0 }
    }

    @Test("every part runs exactly once, job after job, however many parts (past the pool's 65 535 too)",
          arguments: [2, 3, 17, 1000, 70_000])
    func everyPartOnce(parts: Int) {
        for _ in 0..<(parts > 1000 ? 3 : 300) {
            #expect(Self.counts(parts) { body in Parallel.run(parts, body) } == [Int](repeating: 1, count: parts))
        }
    }

    @Test("a loop inside a loop, and loops from several threads at once, all complete (the pool runs one, the rest go to libdispatch)")
    func nestedAndConcurrent() async {
        let outer = 4, inner = 50
        let total = Atomic<Int>(0)
        Parallel.run(outer) { _ in
            Parallel.run(inner) { _ in total.add(1, ordering: .relaxed) }
        }
        #expect(total.load(ordering: .relaxed) == outer * inner)

        await withTaskGroup(of: [Int].self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var all: [Int] = []
                    for _ in 0..<200 { all += Self.counts(9) { body in Parallel.run(9, body) } }
                    return all
                }
            }
            for await counts in group { #expect(counts == [Int](repeating: 1, count: 9 * 200)) }
        }
    }

    @Test("the pool itself runs a job when free, and refuses one from inside a job (-2) or past 65 535 parts (-1)")
    func poolRunsAndRefuses() {
        final class Job {
            let parts: Int
            /// One slot per part: each written by its own part only.
            let seen: UnsafeMutableBufferPointer<Int>
            var nested: [Int32] = []
            init(parts: Int) {
                self.parts = parts
                seen = .allocate(capacity: parts)
            }
            deinit { seen.deallocate() }
        }
        let task: @convention(c) (UnsafeMutableRawPointer?, Int) -> Void = { context, part in
            let job = Unmanaged<Job>.fromOpaque(context!).takeUnretainedValue()
            // `nested` is touched by part 0 only.
            job.seen[part] += 1
            if part == 0 { job.nested.append(ps_parallel_run(2, 2, { _, _ in }, nil)) }
        }
        let job = Job(parts: 40)
        withExtendedLifetime(job) {
            // Other tests may be using the pool at this moment: try until it is free.
            var result: Int32 = -1
            for _ in 0..<10_000 where result != 0 {
                job.seen.initialize(repeating: 0)
                job.nested = []
                result = ps_parallel_run(2, job.parts, task, Unmanaged.passUnretained(job).toOpaque())
            }
            #expect(result == 0)
            #expect(Array(job.seen) == [Int](repeating: 1, count: job.parts))
            #expect(job.nested == [-2])
        }
        #expect(ps_parallel_run(2, 65_536, task, nil) == -1)
    }

    @Test("a loop inside a loop runs its parts one after another on the thread of the outer part")
    func nestedLoopsRunInline() {
        let outer = 2, inner = 5
        let threads = UnsafeMutableBufferPointer<UInt>.allocate(capacity: outer * (inner + 1))
        defer { threads.deallocate() }
        threads.initialize(repeating: 0)
        let target = SendableMutablePointer(threads.baseAddress!)
        Parallel.run(outer) { part in
            target.pointer[part * (inner + 1)] = UInt(pthread_self())
            Parallel.run(inner) { innerPart in
                target.pointer[part * (inner + 1) + 1 + innerPart] = UInt(pthread_self())
            }
        }
        for part in 0..<outer {
            let row = Array(threads[part * (inner + 1)..<(part + 1) * (inner + 1)])
            #expect(row.allSatisfy { $0 == row[0] && $0 != 0 }, "\(row)")
        }
    }

    @Test("each part's writes are visible to the caller when run returns")
    func writesAreVisible() {
        for round in 0..<500 {
            let buffer = UnsafeMutableBufferPointer<Int>.allocate(capacity: 64)
            defer { buffer.deallocate() }
            let target = SendableMutablePointer(buffer.baseAddress!)
            Parallel.run(64) { part in target.pointer[part] = part &* round }
            #expect(Array(buffer) == (0..<64).map { $0 &* round })
        }
    }
}
