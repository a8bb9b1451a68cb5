import CBLAS

/// The one place photosearch calls BLAS. All matrices are row-major.
enum BLAS {
    /// C = alpha · op(A) · op(B) + beta · C, where op(X) is X or Xᵀ.
    /// `rows` × `columns` is the shape of C and `inner` the shared dimension.
    @inline(__always)
    static func gemm(
        transposeA: Bool = false, transposeB: Bool = false,
        rows: Int, columns: Int, inner: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(CblasRowMajor,
                    transposeA ? CblasTrans : CblasNoTrans,
                    transposeB ? CblasTrans : CblasNoTrans,
                    Int32(rows), Int32(columns), Int32(inner),
                    alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Limits OpenBLAS's own thread pool (callers that parallelise across
    /// images themselves set 1).
    static func setThreadCount(_ count: Int) {
        openblas_set_num_threads(Int32(count))
    }

    static var threadCount: Int { Int(openblas_get_num_threads()) }
}
