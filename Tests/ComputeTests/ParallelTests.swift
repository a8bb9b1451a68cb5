import CKernels
import Glibc
import Compute
import Foundation
import Synchronization
import TestSupport
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

    /// The pool is one per process and the other tests share it, so what it
    /// does when free or busy is checked in a process of its own: a small C
    /// program built with the toolchain's clang from the pool's own source.
    @Test("the pool runs a job when free, and refuses one while another thread's is under way (-1), from inside a job (-2) or past 65 535 parts (-1)")
    func poolRunsAndRefuses() throws {
        let folder = try TemporaryDirectory()
        let program = """
            #include "CKernels.h"
            #include <pthread.h>
            #include <stdatomic.h>
            #include <stdio.h>

            #include <unistd.h>

            static int seen[40];
            static int nested = 99;
            static atomic_int started, tried;

            static void nothing(void *context, size_t part) { (void)context, (void)part; }

            static void task(void *context, size_t part) {
                (void)context;
                seen[part]++;
                if (part == 0) nested = ps_parallel_run(2, 2, nothing, NULL);
            }

            // Part 0 says the job has started, and holds it open until the
            // main thread has asked for the pool.
            static void holding(void *context, size_t part) {
                (void)context;
                if (part == 0) {
                    atomic_store(&started, 1);
                    while (!atomic_load(&tried)) {}
                }
            }

            // Another thread's job (the pool is free: main's job has ended).
            static void *other(void *result) {
                *(int *)result = ps_parallel_run(2, 2, holding, NULL);
                return NULL;
            }

            int main(void) {
                alarm(60);   // a hang is a failure, not a stalled test run
                int first = ps_parallel_run(2, 40, task, NULL);
                printf("run %d seen", first);
                for (int part = 0; part < 40; part++) printf(" %d", seen[part]);
                printf(" nested %d", nested);
                printf(" oversized %d", ps_parallel_run(2, 65536, task, NULL));
                int held = 99;
                pthread_t thread;
                pthread_create(&thread, NULL, other, &held);
                while (!atomic_load(&started)) {}
                int refused = ps_parallel_run(2, 2, nothing, NULL);
                atomic_store(&tried, 1);
                pthread_join(thread, NULL);
                printf(" busy %d held %d\\n", refused, held);
                return 0;
            }
            """
        try program.write(toFile: folder.file("pool.c"), atomically: true, encoding: .utf8)
        let kernels = FixtureFiles.root.deletingLastPathComponent().appendingPathComponent("Sources/CKernels").path
        let built = try Self.run("/usr/bin/env", ["clang", "-O1", "-pthread", "-I", kernels + "/include",
                                                  "-o", folder.file("pool"), folder.file("pool.c"), kernels + "/parallel.c"])
        try #require(built.status == 0, "the pool program did not build with clang: \(built.output)")
        let ran = try Self.run(folder.file("pool"), [])
        #expect(ran.status == 0)
        let ones = [String](repeating: "1", count: 40).joined(separator: " ")
        #expect(ran.output == "run 0 seen \(ones) nested -2 oversized -1 busy -1 held 0\n")
    }

    /// Runs a program to its end; its status and what it wrote, both streams together.
    private static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
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
