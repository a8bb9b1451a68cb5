import Compute
import Foundation
import Testing
import TestSupport

/// The CPU's feature flags as the kernel reads them (`/proc/cpuinfo`), read
/// independently of the code under test.
enum CPUFlags {
    static let all: Set<String> = {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return [] }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }()

    /// Whether the CPU has what `path` needs.
    static func has(_ path: KernelPath) -> Bool {
        switch path {
        case .portable: return true
        case .avx2: return all.contains("avx2") && all.contains("fma")
        case .avx512: return has(.avx2) && ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(all.contains)
        case .avx512vnni: return has(.avx512) && all.contains("avx512_vnni")
        case .avx512bf16: return has(.avx512vnni) && all.contains("avx512_bf16")
        }
    }
}

/// Each fast path, with the table to compare against the portable one; a
/// path this CPU cannot run is skipped with a line saying so.
func fastKernels(_ path: KernelPath) -> Kernels? {
    guard let kernels = Kernels.of(path) else {
        print("skipped: this CPU cannot run the \(path.rawValue) kernels; only \(KernelPath.supported.map(\.rawValue)) were compared")
        return nil
    }
    return kernels
}

let fastPaths = KernelPath.allCases.filter { $0 != .portable }
let portable = Kernels.of(.portable)!

@Suite("Kernel paths")
struct KernelPathTests {
    @Test("the supported paths are exactly those the CPU's flags allow, so none is skipped by mistake")
    func supportedPaths() {
        #expect(KernelPath.supported == KernelPath.allCases.filter(CPUFlags.has))
        #expect(KernelPath.best == KernelPath.supported.last)
    }

    @Test("PHOTOSEARCH_KERNELS picks a path, refuses unknown names and paths the CPU lacks")
    func environment() throws {
        #expect(try KernelPath.requested(environment: [:]) == nil)
        #expect(try KernelPath.requested(environment: ["PHOTOSEARCH_KERNELS": ""]) == nil)
        #expect(try KernelPath.requested(environment: ["PHOTOSEARCH_KERNELS": "portable"]) == .portable)
        #expect(try KernelPath.requested(environment: ["PHOTOSEARCH_KERNELS": "PORTABLE"]) == .portable)
        #expect(throws: ComputeError.unknownKernelPath("sse9", known: KernelPath.allCases.map(\.rawValue))) {
            try KernelPath.requested(environment: ["PHOTOSEARCH_KERNELS": "sse9"])
        }
        for path in KernelPath.allCases where !path.isSupported {
            #expect(throws: ComputeError.unsupportedKernelPath(path, supported: KernelPath.supported.map(\.rawValue))) {
                try KernelPath.requested(environment: ["PHOTOSEARCH_KERNELS": path.rawValue])
            }
        }
    }
}
