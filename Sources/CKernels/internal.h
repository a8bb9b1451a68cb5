// Declarations shared by the per-level kernel files; not part of the module's
// public header.
#ifndef PHOTOSEARCH_CKERNELS_INTERNAL_H
#define PHOTOSEARCH_CKERNELS_INTERNAL_H

#include "CKernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

extern const ps_kernels ps_portable_kernels;
#if defined(__x86_64__)
extern const ps_kernels ps_avx2_kernels;
extern const ps_kernels ps_avx512_kernels;
extern const ps_kernels ps_avx512_vnni_kernels;
void ps_avx512bf16_attention_head(const float *q, const float *k, const float *v, size_t stride, float *out, size_t out_stride,
                                  size_t queries, size_t keys, size_t width, float scale, long causal_first, float *scratch);
#endif

#if defined(__x86_64__)
// AVX2 kernels the AVX-512 levels reuse (activations and vector scans are a
// small share of the time; their 256-bit versions run there as they are).
void ps_gelu_avx2(float *x, size_t count);
void ps_gelu_tanh_avx2(float *x, size_t count);
void ps_quick_gelu_avx2(float *x, size_t count);
void ps_avx512_depthwise_convolution(const float *in, size_t height, size_t width, size_t channels, const float *weight,
                                     const float *bias, size_t kernel, size_t stride, size_t padding, float *out,
                                     size_t out_height, size_t out_width, size_t first_row, size_t row_count);
void ps_dot_halves_avx2(const float *query, const uint8_t *halves, const int64_t *rows, size_t count, size_t dimension,
                        float *out);
void ps_dot_u4_avx2(const int8_t *query, const uint8_t *vectors, size_t rows, size_t dimension, int32_t *out);
#endif

// Portable pieces the fast levels reuse for ragged ends.
void ps_portable_gelu(float *x, size_t count);
void ps_portable_gelu_tanh(float *x, size_t count);
void ps_portable_quick_gelu(float *x, size_t count);
void ps_portable_dot_u4(const int8_t *query, const uint8_t *vectors, size_t rows, size_t dimension, int32_t *out);
void ps_portable_dot_halves(const float *query, const uint8_t *halves, const int64_t *rows, size_t count, size_t dimension,
                            float *out);

// Rows of A handled per pass over the panels: A's chunk stays in cache while
// the weights stream past it once.
#define PS_ROW_CHUNK 192

// A tile of a linear kernel's output: `rows` rows from `row`, `width`
// columns from `column` (the first of a panel).
typedef struct {
    size_t row, column, width;
    int rows;
} ps_tile;

// How every level's linear kernels walk their output C (`rows` × the
// columns `first ..< first + count`, clamped to `outputs`): rows in chunks of
// PS_ROW_CHUNK, each chunk's columns in blocks of `block` (whole panels), and
// each block's rows in tiles of `step(rows left)` rows; `tile(args, t)`
// computes one. Inline, with `step` and `tile` constant at each call, it
// compiles into the loops as if written out, the tile's row count a constant
// in each of its cases.
static inline __attribute__((always_inline))
void ps_linear_tiles(size_t rows, size_t outputs, size_t first, size_t count, size_t block, int (*step)(size_t left),
                     void (*tile)(const void *args, ps_tile t), const void *args) {
    size_t end = first + count < outputs ? first + count : outputs;
    for (size_t row = 0; row < rows; row += PS_ROW_CHUNK) {
        size_t chunk = rows - row < PS_ROW_CHUNK ? rows - row : PS_ROW_CHUNK;
        for (size_t column = first; column < end; column += block) {
            size_t width = end - column < block ? end - column : block;
            for (size_t i = 0; i < chunk;) {
                ps_tile t = {row + i, column, width, step(chunk - i)};
                tile(args, t);
                i += (size_t)t.rows;
            }
        }
    }
}

// The floats from one transposed key dimension to the next: the keys
// rounded up to 16, and 16 more when that makes an even number of 64-byte
// lines. A head's 64 dimensions at a multiple of 128 bytes apart share a
// few of the L1 cache's 64 sets (at 1 024 keys, 4 KiB apart, all in one),
// and evict each other; an odd number of lines spreads them over all.
static inline size_t ps_attention_key_stride(size_t keys) {
    size_t kp = (keys + 15) / 16 * 16;
    return kp / 16 % 2 ? kp : kp + 16;
}

// One attention head's operands (see ps_kernels.attention_head), with its
// keys transposed and scaled (`kt`, width × kp) and room for scores.
typedef struct {
    const float *q, *kt, *v;
    float *out, *scores;
    size_t stride, kp, out_stride, keys, width;
    long causal_first;
} ps_attention;

// The keys each of `mr` query rows from `first_row` sees (all of them, or
// when causal those up to its own position), and the most any of them sees.
static inline size_t ps_visible_keys(const ps_attention *h, size_t first_row, int mr, size_t visible[]) {
    size_t most = 0;
    for (int r = 0; r < mr; r++) {
        size_t position = (size_t)h->causal_first + first_row + (size_t)r + 1;
        visible[r] = h->causal_first >= 0 && position < h->keys ? position : h->keys;
        most = visible[r] > most ? visible[r] : most;
    }
    return most;
}

// LayerNorm over `rows` rows of `width`: `row(in, out, …)` for each (inline,
// as `ps_linear_tiles`).
static inline __attribute__((always_inline))
void ps_layer_norm_rows(const float *x, float *y, size_t rows, size_t width, const float *weight, const float *bias,
                        float epsilon, void (*row)(const float *in, float *out, size_t width, const float *weight,
                                                   const float *bias, float epsilon)) {
    for (size_t r = 0; r < rows; r++) row(x + r * width, y + r * width, width, weight, bias, epsilon);
}

// Attention's query rows in groups of up to four: `group(args, first, rows)`
// for each (inline, as `ps_linear_tiles`).
static inline __attribute__((always_inline))
void ps_query_groups(size_t queries, void (*group)(const void *args, size_t first, int rows), const void *args) {
    for (size_t i = 0; i < queries; i += 4) group(args, i, queries - i >= 4 ? 4 : (int)(queries - i));
}

// The int8 scale for a row of weights: max |x| / 127, 1 for zeros, NaN when
// a value is not finite (so that damage shows in the output instead of
// vanishing).
static inline float ps_q8_scale(const float *x, size_t count) {
    float largest = 0;
    int finite = 1;
    for (size_t i = 0; i < count; i++) {
        float magnitude = fabsf(x[i]);
        finite &= isfinite(magnitude) != 0;
        if (magnitude > largest) largest = magnitude;
    }
    if (!finite) return NAN;
    return largest > 0 ? largest / 127.0f : 1.0f;
}

// round(x / scale) in [-127, 127]; 0 for what is not finite.
static inline int8_t ps_q8_value(float x, float inverse) {
    float q = nearbyintf(x * inverse);
    if (!(q == q)) return 0;
    if (q > 127) q = 127;
    if (q < -127) q = -127;
    return (int8_t)q;
}

// A row of activations' asymmetric quantisation (see ps_kernels.quantize_rows),
// from its smallest and largest values: every level computes these with the
// same scalar operations, so all agree to the bit.
typedef struct ps_q8_row {
    float scale;
    float inverse;
    int32_t zero;
} ps_q8_row;

static inline ps_q8_row ps_q8_row_parameters(float smallest, float largest, int finite) {
    ps_q8_row row = {NAN, 0.0f, 0};
    if (!finite) return row;
    float lo = smallest < 0 ? smallest : 0.0f, hi = largest > 0 ? largest : 0.0f;
    float range = hi - lo;
    row.scale = range > 0 ? range / 255.0f : 1.0f;
    row.inverse = 1.0f / row.scale;
    float zero = nearbyintf(-lo * row.inverse);
    row.zero = zero < 0 ? 0 : zero > 255 ? 255 : (int32_t)zero;
    return row;
}

// u = round(x / scale) + zero, in [0, 255] (x is finite and within the row's
// range, so the rounded value cannot overflow).
static inline uint8_t ps_q8_activation(float x, ps_q8_row row) {
    int32_t u = (int32_t)nearbyintf(x * row.inverse) + row.zero;
    return (uint8_t)(u < 0 ? 0 : u > 255 ? 255 : u);
}

typedef void (*ps_activation_kernel)(float *x, size_t count);
typedef void (*ps_quantize_kernel)(const float *x, size_t ldx, size_t rows, size_t inputs, size_t padded, uint8_t *q,
                                   float *scales, int32_t *offsets);

// activate_quantize_rows on a level's activations and quantisation: row by
// row through a buffer on the stack (on the heap past 4096 floats).
static inline void ps_activate_quantize_with(const ps_activation_kernel activations[3], ps_quantize_kernel quantize,
                                             const float *x, size_t ldx, size_t rows, size_t inputs, size_t padded,
                                             ps_activation activation, uint8_t *q, float *scales, int32_t *offsets) {
    float local[4096];
    float *buffer = inputs <= 4096 ? local : (float *)malloc(inputs * sizeof(float));
    if (!buffer) {   // out of memory: every row NaN, as for damaged input
        for (size_t r = 0; r < rows; r++) {
            scales[r] = NAN;
            offsets[r] = 0;
            memset(q + r * padded, 0, padded);
        }
        return;
    }
    for (size_t r = 0; r < rows; r++) {
        memcpy(buffer, x + r * ldx, inputs * sizeof(float));
        activations[activation](buffer, inputs);
        quantize(buffer, inputs, 1, inputs, padded, q + r * padded, scales + r, offsets + r);
    }
    if (buffer != local) free(buffer);
}

// The int8 product's epilogue, one element: the exact integer correction,
// then the same float operations in the same order at every level (a
// multiply, then adds; no fused multiply-add), so that all levels agree to
// the bit.
static inline float ps_q8_result(int32_t sum, int32_t row_offset, int32_t column_sum, float row_scale, float column_scale,
                                 const float *bias, size_t column, const float *previous) {
    float scale = row_scale * column_scale;
    float value = (float)(sum - row_offset * column_sum) * scale;
    if (bias) value = value + bias[column];
    if (previous) value = value + *previous;
    return value;
}

typedef void (*ps_q8_panel_kernel)(const uint8_t *q, const float *row_scales, const int32_t *row_offsets, size_t rows,
                                   size_t padded, const int8_t *panel, const float *column_scales, const int32_t *column_sums,
                                   float *c, size_t ldc, size_t width, const float *bias, int accumulate);

// The loop every level shares for int8 products: row chunks × panels.
static inline void ps_linear_q8_by_panels(ps_q8_panel_kernel kernel, const uint8_t *q, const float *row_scales,
                                          const int32_t *row_offsets, size_t rows, size_t padded, const int8_t *packed,
                                          const float *column_scales, const int32_t *column_sums, float *c, size_t ldc,
                                          size_t outputs, size_t first, size_t count, const float *bias, int accumulate) {
    size_t end = first + count < outputs ? first + count : outputs;
    size_t panel_bytes = padded * PS_PANEL;
    for (size_t row = 0; row < rows; row += PS_ROW_CHUNK) {
        size_t chunk = rows - row < PS_ROW_CHUNK ? rows - row : PS_ROW_CHUNK;
        for (size_t column = first; column < end; column += PS_PANEL) {
            size_t width = end - column < PS_PANEL ? end - column : PS_PANEL;
            kernel(q + row * padded, row_scales + row, row_offsets + row, chunk, padded,
                   packed + (column / PS_PANEL) * panel_bytes, column_scales + column, column_sums + column,
                   c + row * ldc + column, ldc, width, bias ? bias + column : NULL, accumulate);
        }
    }
}

// Writes a block of sums (rows × width, stride PS_PANEL) into C.
static inline void ps_write_block(const float *sums, size_t rows, size_t width, float *c, size_t ldc,
                                  const float *bias, int accumulate) {
    for (size_t r = 0; r < rows; r++) {
        for (size_t j = 0; j < width; j++) {
            float value = sums[r * PS_PANEL + j];
            if (bias) value += bias[j];
            if (accumulate) value += c[r * ldc + j];
            c[r * ldc + j] = value;
        }
    }
}


typedef void (*ps_panel_kernel)(const float *a, size_t lda, const float *panel, size_t inputs,
                                float *c, size_t ldc, size_t rows, size_t width, const float *bias, int accumulate);

// The loop every level shares: row chunks × output panels, each panel handed
// to the level's panel kernel.
static inline void ps_linear_by_panels(ps_panel_kernel kernel, const float *a, size_t lda, const float *packed,
                                       size_t inputs, float *c, size_t ldc, size_t outputs, size_t rows,
                                       size_t first, size_t count, const float *bias, int accumulate) {
    size_t end = first + count < outputs ? first + count : outputs;
    for (size_t row = 0; row < rows; row += PS_ROW_CHUNK) {
        size_t chunk = rows - row < PS_ROW_CHUNK ? rows - row : PS_ROW_CHUNK;
        for (size_t column = first; column < end; column += PS_PANEL) {
            const float *panel = packed + (column / PS_PANEL) * inputs * PS_PANEL;
            size_t width = end - column < PS_PANEL ? end - column : PS_PANEL;
            kernel(a + row * lda, lda, panel, inputs, c + row * ldc + column, ldc, chunk, width,
                   bias ? bias + column : NULL, accumulate);
        }
    }
}

#endif
