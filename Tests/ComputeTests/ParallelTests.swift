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
