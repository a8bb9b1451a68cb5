import Foundation
import Testing

/// The real executable under each forced kernel path: the same embeddings
/// (kernel by kernel, ComputeTests compares the paths on raw inputs).
@Suite("PHOTOSEARCH_KERNELS")
struct KernelPathCommandTests {
    struct Line: Decodable {
        let embedding: [Float]
    }

    func embeddings(_ kernels: String) throws -> [[Float]] {
        let result = try CommandRunner.run([
            "embed", "--model", CommandRunner.fixture("models/oc-vit-gelu-p16"),
            "--image", CommandRunner.fixture("photos/rocket.jpg"), "--text", "a rocket on its launch pad",
        ], environment: ["PHOTOSEARCH_KERNELS": kernels])
        try #require(result.status == 0, "\(result.standardError)")
        return try result.standardOutput.split(separator: "\n").map { try JSONDecoder().decode(Line.self, from: Data($0.utf8)).embedding }
    }

    /// The paths the CPU has, from its flags.
    static let supported: [String] = {
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("flags") }.map { Set($0.split(separator: " ").map(String.init)) } ?? []
        return ["portable"] + (flags.contains("avx2") && flags.contains("fma") ? ["avx2"] : [])
    }()

    @Test("every path the CPU runs embeds like the portable one, end to end")
    func pathsAgree() throws {
        let reference = try embeddings("portable")
        #expect(Self.supported.count > 1 || !FileManager.default.fileExists(atPath: "/proc/cpuinfo"),
                "an x86-64 CI machine has AVX2: the comparison must not be empty")
        for path in Self.supported.dropFirst() {
            let fast = try embeddings(path)
            for (a, b) in zip(fast, reference) {
                // Float rounding differences through a 2-layer model: far below 1e-4 relative.
                let worst = zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
                #expect(worst < 1e-4, "\(path)")
            }
        }
    }

    @Test("an unknown or unsupported path is refused with exit status 64")
    func refused() throws {
        let unknown = try CommandRunner.run(["status", "--db", "/nonexistent"], environment: ["PHOTOSEARCH_KERNELS": "sse9"])
        #expect(unknown.status == 64)
        #expect(unknown.standardError == "photosearch: error: PHOTOSEARCH_KERNELS=sse9 is not a kernel path; use one of: portable, avx2\n")
    }
}
