import CDownload

/// Incremental SHA-256 through Debian's libcrypto (OpenSSL 3), which picks the
/// CPU's SHA extensions or AVX2 code at run time: downloaded model files are
/// checked against the hub's checksums as they arrive. Measured on 256 MiB
/// (AMD EPYC Zen 5, one core): libcrypto 2.05 GB/s, swift-crypto's
/// BoringSSL 2.04 GB/s, the hand-written Swift this replaced 0.35 GB/s; the
/// two libraries tie, and libcrypto costs no build time (swift-crypto
/// compiles BoringSSL, ~50 s on two cores). libcrypto is loaded when the
/// first hasher is made (`CDownload`), not at every start.
public final class SHA256 {
    private let hasher: OpaquePointer

    /// Nil when libcrypto.so.3 cannot be loaded.
    public init?() {
        guard let hasher = ps_sha256_new() else { return nil }
        self.hasher = hasher
    }

    deinit {
        ps_sha256_free(hasher)
    }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        precondition(ps_sha256_update(hasher, base, bytes.count) == 0, "libcrypto refused SHA-256 input")
    }

    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The digest as 64 lower-case hex digits; the hasher starts over afterwards.
    public func finalize() -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        precondition(ps_sha256_final(hasher, &digest) == 0, "libcrypto cannot finish SHA-256")
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: digest.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }, as: UTF8.self)
    }
}
