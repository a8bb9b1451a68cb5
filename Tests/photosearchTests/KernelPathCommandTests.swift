import Foundation
import Testing

/// The real executable under each forced kernel path: the same embeddings
/// (kernel by kernel, ComputeTests compares the paths on raw inputs).
@Suite("PHOTOSEARCH_KERNELS")
struct KernelPathCommandTests {
    struct Line: Decodable {
        let embedding: [Float]
    }

    func embeddings(_ kernels: String, precision: String) throws -> [[Float]] {
        let result = try CommandRunner.run([
            "embed", "--model", CommandRunner.fixture("models/oc-vit-gelu-p16"), "--precision", precision,
            "--image", CommandRunner.fixture("photos/rocket.jpg"), "--text", "a rocket on its launch pad",
        ], environment: ["PHOTOSEARCH_KERNELS": kernels])
        try #require(result.status == 0, "\(result.standardError)")
        return try result.standardOutput.split(separator: "\n").map { try JSONDecoder().decode(Line.self, from: Data($0.utf8)).embedding }
    }

    /// The paths the CPU has, from its flags.
    static let supported: [String] = {
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("flags") }.map { Set($0.split(separator: " ").map(String.init)) } ?? []
        let avx2 = flags.contains("avx2") && flags.contains("fma")
        let avx512 = avx2 && ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains)
        let vnni = avx512 && flags.contains("avx512_vnni")
        return ["portable"] + (avx2 ? ["avx2"] : []) + (avx512 ? ["avx512"] : []) + (vnni ? ["avx512vnni"] : [])
            + (vnni && flags.contains("avx512_bf16") ? ["avx512bf16"] : [])
    }()

    @Test("every path the CPU runs embeds like the portable one, end to end", arguments: ["fp32", "int8"])
    func pathsAgree(precision: String) throws {
        let reference = try embeddings("portable", precision: precision)
        #expect(Self.supported.count > 1 || !FileManager.default.fileExists(atPath: "/proc/cpuinfo"),
                "an x86-64 CI machine has AVX2: the comparison must not be empty")
        for path in Self.supported.dropFirst() {
            let fast = try embeddings(path, precision: precision)
            for (a, b) in zip(fast, reference) {
                // fp32: float rounding differences through a 2-layer model, far
                // below 1e-4 relative. int8: the integer products are the same
                // bits, but an activation a rounding away can quantise one step
                // apart.
                let worst = zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
                if path == "avx512bf16" && precision == "int8" {
                    // int8 towers' attention products from bfloat16 at this
                    // level: the embedding moves as a whole a little, element
                    // by element more than a rounding step.
                    let dot = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                    let norms = (a.reduce(0.0) { $0 + Double($1 * $1) } * b.reduce(0.0) { $0 + Double($1 * $1) }).squareRoot()
                    #expect(dot / norms > 0.998, "\(path) \(precision): cosine \(dot / norms)")
                } else {
                    #expect(worst < (precision == "fp32" ? 1e-4 : 1e-2), "\(path) \(precision): \(worst)")
                }
            }
        }
    }

    @Test("an unknown or unsupported path is refused with exit status 64")
    func refused() throws {
        let unknown = try CommandRunner.run(["status", "--db", "/nonexistent"], environment: ["PHOTOSEARCH_KERNELS": "sse9"])
        #expect(unknown.status == 64)
        #expect(unknown.standardError == "photosearch: error: PHOTOSEARCH_KERNELS=sse9 is not a kernel path; use one of: portable, avx2, avx512, avx512vnni, avx512bf16\n")
        // What it says of the value is shown escaped, and not at any length.
        let hostile = try CommandRunner.run(["status", "--db", "/nonexistent"],
                                            environment: ["PHOTOSEARCH_KERNELS": "avx\u{1B}[2J" + String(repeating: "x", count: 100_000)])
        #expect(hostile.status == 64)
        #expect(hostile.standardError.hasPrefix("photosearch: error: PHOTOSEARCH_KERNELS=avx\\x1b[2Jxxx"), "\(hostile.standardError.prefix(100))")
        #expect(!hostile.standardError.contains("\u{1B}") && hostile.standardError.count < 1200)
    }
}
