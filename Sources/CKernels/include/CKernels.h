#ifndef PHOTOSEARCH_CKERNELS_H
#define PHOTOSEARCH_CKERNELS_H

// Hand-vectorised kernels, one source file per x86-64 level (portable.c,
// avx2.c), gathered into one table of function pointers per level
// (dispatch.c). Swift compiles for baseline x86-64; the Numerics module picks
// the table once, from the CPU's features or $PHOTOSEARCH_KERNELS, and tests
// compare every table with the portable one on the same inputs.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Output columns per panel of a packed weight matrix.
#define PS_PANEL 16

/// The kernel levels, from the reference C up.
typedef enum ps_kernel_path {
    PS_PATH_PORTABLE = 0,
    PS_PATH_AVX2 = 1,
} ps_kernel_path;

#define PS_PATH_COUNT 2

/// One level's kernels. Every table computes the same functions; a fast one
/// may differ from the portable one only by floating-point rounding (integer
/// kernels are exact).
typedef struct ps_kernels {
    /// C[:, first ..< first + count] = A·Wᵀ (+ bias) (+ C when accumulate), for
    /// the panels covering those columns; `first` is a multiple of PS_PANEL.
    /// A is rows × inputs (leading dimension lda), C is rows × outputs (ldc),
    /// W is packed by ps_pack_weights, bias has `outputs` values or is NULL.
    void (*linear_packed)(const float *a, size_t lda, const float *packed, size_t inputs,
                          float *c, size_t ldc, size_t outputs, size_t rows, size_t first, size_t count,
                          const float *bias, int accumulate);

    /// x ← x·Φ(x), GELU with the error function (torch.nn.GELU()).
    void (*gelu)(float *x, size_t count);
    /// x ← 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (nn.GELU(approximate="tanh")).
    void (*gelu_tanh)(float *x, size_t count);
    /// x ← x·σ(1.702·x) (open_clip QuickGELU).
    void (*quick_gelu)(float *x, size_t count);

    /// One attention head: for each of `queries` query rows i,
    ///   out_i = Σ_j softmax_j(scale · q_i·k_j) · v_j
    /// over `keys` key rows; with causal_first ≥ 0, query row i sits at position
    /// causal_first + i and sees keys 0 ... causal_first + i only. Rows of q, k
    /// and v are `width` floats, `stride` apart; rows of out are `out_stride`
    /// apart. `scratch` holds `keys` floats.
    void (*attention_head)(const float *q, const float *k, const float *v, size_t stride,
                           float *out, size_t out_stride, size_t queries, size_t keys, size_t width,
                           float scale, long causal_first, float *scratch);

    /// out[i] = Σₖ query[k] · vectors[i·dimension + k] for `rows` vectors of
    /// unsigned bytes, exactly, in 32-bit integers. The query must lie in
    /// [-63, 63] so that pairwise 16-bit sums (vpmaddubsw) cannot saturate:
    /// 2 · 255 · 63 < 32768.
    void (*dot_u8)(const int8_t *query, const uint8_t *vectors, size_t rows, size_t dimension, int32_t *out);

    /// The same for 4-bit vectors: each row holds `dimension` / 2 bytes
    /// (dimension a multiple of 64), block b of 32 bytes carrying dimension
    /// 64b + j in the low nibble of byte j and 64b + 32 + j in the high one. The
    /// query may use the whole int8 range (2 · 15 · 127 < 32768).
    void (*dot_u4)(const int8_t *query, const uint8_t *vectors, size_t rows, size_t dimension, int32_t *out);
} ps_kernels;

/// Whether this CPU can run `path` (CPUID feature bits, and the operating
/// system's support for the registers).
int ps_cpu_supports(ps_kernel_path path);

/// The table of `path`. Calling a table the CPU does not support faults.
const ps_kernels *ps_kernels_of(ps_kernel_path path);

/// Floats needed to pack an `outputs × inputs` weight matrix.
size_t ps_packed_count(size_t outputs, size_t inputs);

/// Packs panels first_panel ..< first_panel + panel_count of an nn.Linear
/// weight (`outputs × inputs`, row-major) into panels of PS_PANEL outputs:
/// panel p holds inputs × PS_PANEL floats, element (k, j) being
/// weight[p·PS_PANEL + j][k]; the last panel is padded with zeros. (Split in
/// ranges so that packing can be shared between threads.)
void ps_pack_weights(const float *weight, size_t outputs, size_t inputs, float *packed,
                     size_t first_panel, size_t panel_count);

/// Quantises `count` floats to integers in [-limit, limit] with one scale:
/// round(x / scale), scale = max |x| / limit over the finite values (1 when
/// they are all zero); a NaN or infinity becomes 0. Returns the scale.
float ps_quantize(const float *values, size_t count, int limit, int8_t *out);

#ifdef __cplusplus
}
#endif

#endif
