import CLibcrypto

/// Incremental SHA-256 through Debian's libcrypto (OpenSSL 3), which picks the
/// CPU's SHA extensions or AVX2 code at run time: downloaded model files are
/// checked against the hub's checksums as they arrive. Measured on 256 MiB
/// (AMD EPYC Zen 5, one core): libcrypto 2.05 GB/s, swift-crypto's
/// BoringSSL 2.04 GB/s, the hand-written Swift this replaced 0.35 GB/s; the
/// two libraries tie, and libcrypto costs no build time (swift-crypto
/// compiles BoringSSL, ~50 s on two cores).
public final class SHA256 {
    private let context: OpaquePointer

    public init() {
        guard let context = EVP_MD_CTX_new(), EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else {
            preconditionFailure("libcrypto cannot start a SHA-256 digest")
        }
        self.context = context
    }

    deinit {
        EVP_MD_CTX_free(context)
    }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        precondition(EVP_DigestUpdate(context, base, bytes.count) == 1, "libcrypto refused SHA-256 input")
    }

    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The digest as 64 lower-case hex digits; the hasher starts over afterwards.
    public func finalize() -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        precondition(EVP_DigestFinal_ex(context, &digest, &length) == 1 && length == 32, "libcrypto cannot finish SHA-256")
        precondition(EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1)
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: digest.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }, as: UTF8.self)
    }
}
