import CKernels
import Foundation

/// The kernel levels photosearch has, from the reference C up. Each is one
/// table of kernels in CKernels; the fastest one this CPU runs is used unless
/// `$PHOTOSEARCH_KERNELS` names another.
public enum KernelPath: String, CaseIterable, Sendable, Codable {
    /// Plain C: every CPU, and the reference the others are tested against.
    case portable
    /// AVX2 and FMA (Intel Haswell, AMD Zen 1 and later).
    case avx2
    /// AVX-512 F, BW, DQ and VL (Intel Skylake-X, AMD Zen 4 and later).
    case avx512
    /// AVX-512 with VNNI's int8 dot products (Intel Cascade Lake and later, AMD Zen 4 and later).
    case avx512vnni
    /// VNNI, and AVX-512 BF16's dot products for int8 towers' attention
    /// (AMD Zen 4 and later, Intel Sapphire Rapids and later).
    case avx512bf16

    /// The environment variable that forces a path (tests, benchmarks, bug reports).
    public static let environmentVariable = "PHOTOSEARCH_KERNELS"

    var cValue: ps_kernel_path {
        switch self {
        case .portable: return PS_PATH_PORTABLE
        case .avx2: return PS_PATH_AVX2
        case .avx512: return PS_PATH_AVX512
        case .avx512vnni: return PS_PATH_AVX512_VNNI
        case .avx512bf16: return PS_PATH_AVX512_BF16
        }
    }

    /// Whether this CPU (and operating system) can run the path.
    public var isSupported: Bool { ps_cpu_supports(cValue) != 0 }

    /// The paths this CPU runs, slowest first.
    public static var supported: [KernelPath] { allCases.filter(\.isSupported) }

    /// The fastest path this CPU runs.
    public static var best: KernelPath { supported.last ?? .portable }

    /// The path `$PHOTOSEARCH_KERNELS` asks for, nil when it is unset or
    /// empty; an unknown name, or a path this CPU cannot run, is an error.
    public static func requested(environment: [String: String] = ProcessInfo.processInfo.environment) throws(ComputeError) -> KernelPath? {
        guard let name = environment[environmentVariable], !name.isEmpty else { return nil }
        guard let path = KernelPath(rawValue: name.lowercased()) else {
            throw .unknownKernelPath(name, known: allCases.map(\.rawValue))
        }
        guard path.isSupported else { throw .unsupportedKernelPath(path, supported: supported.map(\.rawValue)) }
        return path
    }
}

/// One path's table of kernels.
public struct Kernels: Sendable {
    public let path: KernelPath
    let table: ps_kernels

    /// The table of `path`, or nil when this CPU cannot run it.
    public static func of(_ path: KernelPath) -> Kernels? {
        guard path.isSupported else { return nil }
        return Kernels(path: path, table: ps_kernels_of(path.cValue).pointee)
    }

    /// The kernels everything uses: the path `$PHOTOSEARCH_KERNELS` names,
    /// else the fastest this CPU runs. Chosen once, on first use (a Swift
    /// global is initialised exactly once, whatever the threads). Programs
    /// check the variable first with `KernelPath.requested()`, so that a bad
    /// value is reported; here it falls back to the fastest path.
    public static let active: Kernels = Kernels.of((try? KernelPath.requested()) ?? nil ?? KernelPath.best)!
}
