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

/// Output columns per panel of a packed weight matrix (float or int8).
#define PS_PANEL 16

/// Inputs per group in a packed int8 panel: one 32-bit lane holds one
/// output's weights for 4 consecutive inputs (vpdpbusd's shape).
#define PS_Q8_GROUP 4

/// The version of the packed layouts (ps_pack_weights, ps_pack_q8 and the
/// sizes above), shared by every level. Prepared weights saved on disk carry
/// it: change it whenever a packed matrix's bytes would change.
#define PS_LAYOUT_VERSION 1

/// The kernel levels, from the reference C up.
typedef enum ps_kernel_path {
    PS_PATH_PORTABLE = 0,
    /// AVX2 and FMA (Haswell, Zen 1).
    PS_PATH_AVX2 = 1,
    /// AVX-512 F, BW, DQ and VL (Skylake-X, Zen 4).
    PS_PATH_AVX512 = 2,
    /// The same with VNNI's vpdpbusd (Cascade Lake, Ice Lake, Zen 4).
    PS_PATH_AVX512_VNNI = 3,
    /// The same with AVX-512 BF16's vdpbf16ps for int8 towers' attention (Zen 4, Sapphire Rapids).
    PS_PATH_AVX512_BF16 = 4,
} ps_kernel_path;

#define PS_PATH_COUNT 5

/// The activations between a transformer MLP's two products.
typedef enum ps_activation {
    /// x·Φ(x), with the error function.
    PS_ACTIVATION_GELU = 0,
    /// GELU's tanh approximation.
    PS_ACTIVATION_GELU_TANH = 1,
    /// x·σ(1.702·x).
    PS_ACTIVATION_QUICK_GELU = 2,
} ps_activation;

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
    /// apart. `scratch` holds ps_attention_scratch(keys, width) floats.
    void (*attention_head)(const float *q, const float *k, const float *v, size_t stride,
                           float *out, size_t out_stride, size_t queries, size_t keys, size_t width,
                           float scale, long causal_first, float *scratch);

    /// attention_head at the precision an int8 tower can take: its two
    /// products from bfloat16 values with float32 sums where the level has
    /// AVX-512 BF16 (the softmax stays float32), attention_head itself
    /// elsewhere. The same arguments and scratch.
    void (*attention_head_reduced)(const float *q, const float *k, const float *v, size_t stride,
                                   float *out, size_t out_stride, size_t queries, size_t keys, size_t width,
                                   float scale, long causal_first, float *scratch);

    /// y = (x − mean) / √(variance + epsilon) · weight + bias for each of
    /// `rows` rows of `width` floats (torch.nn.functional.layer_norm: the
    /// biased variance). x and y may be the same rows.
    void (*layer_norm)(const float *x, float *y, size_t rows, size_t width, const float *weight, const float *bias,
                       float epsilon);

    /// Quantises `rows` rows of activations (`inputs` floats, `ldx` apart)
    /// for this level's int8 product, asymmetrically, per row: over the
    /// range [lo, hi] = [min(0, min x), max(0, max x)], scale = (hi − lo) /
    /// 255 (1 for a row of zeros), zero = round(−lo / scale), u = round(x /
    /// scale) + zero in [0, 255]; a row holding a NaN or an infinity gets
    /// scale NaN (its results are NaN) and u = 0. Each row takes `padded`
    /// bytes (inputs rounded up to PS_Q8_GROUP; the padding multiplies zero
    /// weights). Stored as u at the VNNI level (vpdpbusd multiplies unsigned
    /// bytes), as the signed byte u − 128 elsewhere; `offsets` receives what
    /// linear_q8 takes off: zero at the VNNI level, zero − 128 elsewhere.
    void (*quantize_rows)(const float *x, size_t ldx, size_t rows, size_t inputs, size_t padded,
                          uint8_t *q, float *scales, int32_t *offsets);

    /// quantize_rows of `activation` applied to the rows, without writing
    /// the activated floats anywhere: each row goes through the activation
    /// in a buffer that stays in cache, then is quantised (an MLP's hidden
    /// layer, 3072 floats a row, read once instead of three times). The rows
    /// of x are left as they were.
    void (*activate_quantize_rows)(const float *x, size_t ldx, size_t rows, size_t inputs, size_t padded,
                                   ps_activation activation, uint8_t *q, float *scales, int32_t *offsets);

    /// C[:, first ..< first + count] = row_scale · column_scale ·
    /// (Σ q·w − row_offset · Σ w) (+ bias) (+ C when accumulate), that is
    /// scale · Σ (u − zero)·w, for rows quantised by quantize_rows and weights
    /// packed by ps_pack_q8 (`column_sums` = Σ w per output); `first` is a
    /// multiple of PS_PANEL. The integer sums are exact at every level and the
    /// float epilogue is the same (a multiply, then adds), so every level
    /// gives the same bits.
    void (*linear_q8)(const uint8_t *q, const float *row_scales, const int32_t *row_offsets, size_t rows, size_t padded,
                      const int8_t *packed, const float *column_scales, const int32_t *column_sums,
                      float *c, size_t ldc, size_t outputs, size_t first, size_t count,
                      const float *bias, int accumulate);

    /// out[r] = Σₖ query[k] · half(rows[r], k) for `count` rows of float16
    /// vectors: row n is the `dimension` little-endian IEEE halves at
    /// halves + 2 · dimension · n (no alignment needed). For ranking: the
    /// sums' order, and so their rounding, is the level's (F16C and FMA from
    /// AVX2 on); the next rows are prefetched while one is summed.
    void (*dot_halves)(const float *query, const uint8_t *halves, const int64_t *rows, size_t count, size_t dimension,
                       float *out);

    /// The same for 4-bit vectors: each row holds `dimension` / 2 bytes
    /// (dimension a multiple of 64), block b of 32 bytes carrying dimension
    /// 64b + j in the low nibble of byte j and 64b + 32 + j in the high one. The
    /// query may use the whole int8 range (2 · 15 · 127 < 32768).
    void (*dot_u4)(const int8_t *query, const uint8_t *vectors, size_t rows, size_t dimension, int32_t *out);

    /// A depthwise convolution over images stored channels-last (NHWC):
    ///   out[n, y, x, c] = bias[c] + Σ_{i,j < kernel} weight[i, j, c] ·
    ///                     in[n, y·stride + i − padding, x·stride + j − padding, c]
    /// with zeros outside the image, for output rows `first_row ..<
    /// first_row + row_count` of n · out_height (an image's rows follow each
    /// other). `weight` is kernel × kernel × channels (channels innermost),
    /// `bias` has `channels` values or is NULL. Each value sums its terms in
    /// one order (bias, then i, then j); levels differ only in rounding
    /// (fused multiply-adds).
    void (*depthwise_convolution)(const float *in, size_t height, size_t width, size_t channels,
                                  const float *weight, const float *bias, size_t kernel, size_t stride, size_t padding,
                                  float *out, size_t out_height, size_t out_width, size_t first_row, size_t row_count);
} ps_kernels;

/// Whether this CPU can run `path` (CPUID feature bits, and the operating
/// system's support for the registers).
int ps_cpu_supports(ps_kernel_path path);

/// The table of `path`. Calling a table the CPU does not support faults.
const ps_kernels *ps_kernels_of(ps_kernel_path path);

/// Floats of scratch an attention_head call needs for `keys` keys of
/// `width` floats (at every level: the keys transposed, and up to six rows
/// of scores, padded to 16 keys or more).
size_t ps_attention_scratch(size_t keys, size_t width);

/// Floats needed to pack an `outputs × inputs` weight matrix.
size_t ps_packed_count(size_t outputs, size_t inputs);

/// Packs panels first_panel ..< first_panel + panel_count of an nn.Linear
/// weight (`outputs × inputs`, row-major) into panels of PS_PANEL outputs:
/// panel p holds inputs × PS_PANEL floats, element (k, j) being
/// weight[p·PS_PANEL + j][k]; the last panel is padded with zeros. (Split in
/// ranges so that packing can be shared between threads.)
void ps_pack_weights(const float *weight, size_t outputs, size_t inputs, float *packed,
                     size_t first_panel, size_t panel_count);

/// Inputs of a packed int8 matrix: `inputs` rounded up to PS_Q8_GROUP.
size_t ps_q8_padded_inputs(size_t inputs);

/// Bytes of a packed int8 matrix: panels of PS_PANEL outputs, each
/// padded_inputs / PS_Q8_GROUP groups of PS_PANEL × PS_Q8_GROUP bytes (group
/// g, output j: weights for inputs 4g ... 4g + 3 at bytes 4j ... 4j + 3).
size_t ps_q8_packed_bytes(size_t outputs, size_t inputs);

/// Quantises and packs panels first_panel ..< first_panel + panel_count of an
/// nn.Linear weight (`outputs × inputs`, row-major): per output, symmetric,
/// scale = max |w| / 127 (1 for zeros), q = round(w / scale); `scales` and
/// `sums` (Σ q over the output's inputs) receive one value per output, the
/// padding outputs and inputs hold zeros.
void ps_pack_q8(const float *weight, size_t outputs, size_t inputs, int8_t *packed, float *scales, int32_t *sums,
                size_t first_panel, size_t panel_count);

/// Quantises `count` floats to integers in [-limit, limit] with one scale:
/// round(x / scale), scale = max |x| / limit over the finite values (1 when
/// they are all zero); a NaN or infinity becomes 0. Returns the scale.
float ps_quantize(const float *values, size_t count, int limit, int8_t *out);

/// `count` IEEE half-precision values (two bytes each, little-endian, no
/// alignment needed) as floats, exactly.
void ps_halves_to_floats(const uint8_t *halves, size_t count, float *out);

/// Runs task(context, part) for every part in 0 ..< parts on the calling
/// thread and up to threads − 1 pool workers (started on first use; between
/// jobs they spin about 100 µs, then sleep), and returns 0 when all are done.
/// Returns −1 without running anything when another job is under way, when
/// called from inside a task, or for more than 65 535 parts: the caller then
/// runs the parts some other way.
int ps_parallel_run(int threads, size_t parts, void (*task)(void *context, size_t part), void *context);

/// Threads started from now on (the pool's, libdispatch's) get a stack of at
/// least `bytes`. Their default is the stack limit (ulimit -s), and at 256 KB
/// the encoders overflowed it: a SIGSEGV with no message.
void ps_ensure_thread_stacks(size_t bytes);

#ifdef __cplusplus
}
#endif

#endif
