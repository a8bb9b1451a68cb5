// The AVX-512 level (F, BW, DQ, VL: Skylake-X, Zen 4 and later): 512-bit
// vectors, a 12 × 32 register-blocked float kernel over two panels at once,
// masked stores for ragged edges, the int8 product through vpmaddubsw and
// vpmaddwd, attention as two small register-blocked products, layer
// normalisation, activations. The vector scans reuse the AVX2 kernels.
#include "internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma"))), apply_to = function)

#include "avx512_inline.h"

#define columns_mask ps512_columns_mask

// MARK: Float products

// `mr` rows (1-12) × `np` panels (1 or 2), both constants where it is inlined.
static inline __attribute__((always_inline))
void block_f32(const float *a, size_t lda, const float *panel, size_t inputs, float *c, size_t ldc,
               size_t width, const float *bias, int accumulate, const int mr, const int np) {
    __m512 acc0[12], acc1[12];
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++) {
        acc0[r] = _mm512_setzero_ps();
        acc1[r] = _mm512_setzero_ps();
    }
    const float *p0 = panel, *p1 = panel + inputs * PS_PANEL;
    for (size_t k = 0; k < inputs; k++) {
        __m512 b0 = _mm512_loadu_ps(p0 + k * PS_PANEL);
        __m512 b1 = np == 2 ? _mm512_loadu_ps(p1 + k * PS_PANEL) : b0;
        // Unrolled whatever the optimiser's budget, so that the 24
        // accumulators live in registers (left to itself, clang kept the
        // 12-row case in a loop over stack slots: 40% of the AVX2 speed on Zen 4).
#pragma clang loop unroll(full)
        for (int r = 0; r < mr; r++) {
            __m512 x = _mm512_set1_ps(a[(size_t)r * lda + k]);
            acc0[r] = _mm512_fmadd_ps(x, b0, acc0[r]);
            if (np == 2) acc1[r] = _mm512_fmadd_ps(x, b1, acc1[r]);
        }
    }
    __mmask16 m0 = columns_mask(width), m1 = columns_mask(width > 16 ? width - 16 : 0);
    __m512 bias0 = bias ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
    __m512 bias1 = bias && np == 2 ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++) {
        float *target = c + (size_t)r * ldc;
        __m512 v0 = _mm512_add_ps(acc0[r], bias0);
        if (accumulate) v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, target));
        _mm512_mask_storeu_ps(target, m0, v0);
        if (np == 2) {
            __m512 v1 = _mm512_add_ps(acc1[r], bias1);
            if (accumulate) v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, target + 16));
            _mm512_mask_storeu_ps(target + 16, m1, v1);
        }
    }
}

#define PS_ROWS_SWITCH(call, np)                                                                                       \
    switch (mr) {                                                                                                      \
    case 12: call(12, np); break;                                                                                      \
    case 8: call(8, np); break;                                                                                        \
    case 4: call(4, np); break;                                                                                        \
    case 2: call(2, np); break;                                                                                        \
    default: call(1, np); break;                                                                                       \
    }

// The largest of 12, 8, 4, 2, 1 not above `left`.
static inline int rows_step(size_t left) {
    return left >= 12 ? 12 : left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
}

// Both linear kernels' tiles: 12, 8, 4, 2 or 1 rows by one or two panels.
#define PS_TILE_SWITCH(call)                                                                                           \
    if (t.width > PS_PANEL) {                                                                                          \
        PS_ROWS_SWITCH(call, 2)                                                                                        \
    } else {                                                                                                           \
        PS_ROWS_SWITCH(call, 1)                                                                                        \
    }

typedef struct {
    const float *a, *packed, *bias;
    float *c;
    size_t lda, inputs, ldc;
    int accumulate;
} packed_product;

static inline __attribute__((always_inline)) void packed_tile(const void *args, ps_tile t) {
    const packed_product *p = args;
    const float *panel = p->packed + (t.column / PS_PANEL) * p->inputs * PS_PANEL;
    const float *ar = p->a + t.row * p->lda, *panel_bias = p->bias ? p->bias + t.column : NULL;
    float *cr = p->c + t.row * p->ldc + t.column;
    int mr = t.rows;
#define PS_CALL(m, n) block_f32(ar, p->lda, panel, p->inputs, cr, p->ldc, t.width, panel_bias, p->accumulate, m, n)
    PS_TILE_SWITCH(PS_CALL)
#undef PS_CALL
}

static void linear_packed(const float *a, size_t lda, const float *packed, size_t inputs, float *c, size_t ldc,
                          size_t outputs, size_t rows, size_t first, size_t count, const float *bias, int accumulate) {
    packed_product product = {a, packed, bias, c, lda, inputs, ldc, accumulate};
    ps_linear_tiles(rows, outputs, first, count, 2 * PS_PANEL, rows_step, packed_tile, &product);
}

// MARK: Activations

// The activations' polynomials (activations.h) for 16 floats.
typedef __m512 ps_vf;
typedef int32_t ps_vi __attribute__((__vector_size__(64)));
#define ps_splat(c) _mm512_set1_ps(c)
#define ps_vmin _mm512_min_ps
#define ps_vmax _mm512_max_ps
#include "activations.h"

// Softmax of `mr` rows of scores (`kp` apart), in place, over each row's
// visible keys; the rest, up to `most`, become 0. The rows are left
// unnormalised: inverse[r] receives 1 / row r's sum, which P·V multiplies in.
static inline __attribute__((always_inline))
void ps512_softmax_rows(float *scores, size_t kp, const size_t visible[4], size_t most, const int mr, float inverse[4]) {
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++) {
        float *s = scores + (size_t)r * kp;
        __m512 maximum = ps512_row_maximum(s, visible[r]);
        __m512 total = _mm512_setzero_ps();
        for (size_t j = 0; j < most; j += 16) {
            __mmask16 m = ps512_columns_mask(visible[r] > j ? visible[r] - j : 0);
            __m512 e = _mm512_maskz_mov_ps(m, ps_exp(_mm512_sub_ps(_mm512_loadu_ps(s + j), maximum)));
            _mm512_storeu_ps(s + j, e);
            total = _mm512_add_ps(total, e);
        }
        inverse[r] = 1.0f / _mm512_reduce_add_ps(total);
    }
}

static void gelu(float *x, size_t count) {
    for (size_t i = 0; i < count; i += 16) {
        __mmask16 m = columns_mask(count - i);
        _mm512_mask_storeu_ps(x + i, m, ps_gelu(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

static void gelu_tanh(float *x, size_t count) {
    for (size_t i = 0; i < count; i += 16) {
        __mmask16 m = columns_mask(count - i);
        _mm512_mask_storeu_ps(x + i, m, ps_gelu_tanh(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

static void quick_gelu(float *x, size_t count) {
    for (size_t i = 0; i < count; i += 16) {
        __mmask16 m = columns_mask(count - i);
        _mm512_mask_storeu_ps(x + i, m, ps_quick_gelu(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

// MARK: Attention

// P·V for `mr` query rows and `chunks` 16-float chunks of the width from
// `column`: out_r = inverse_r · Σ_j p_rj v_j over keys 0 ..< keys.
static inline __attribute__((always_inline))
void attention_values(const float *scores, size_t kp, const float *v, size_t stride, size_t keys, size_t column,
                      size_t width, const float *inverse, float *out, size_t out_stride, const int mr, const int chunks) {
    __m512 acc[4][4];
    __mmask16 masks[4];
#pragma clang loop unroll(full)
    for (int c = 0; c < chunks; c++) {
        size_t at = column + 16 * (size_t)c;
        masks[c] = columns_mask(width > at ? width - at : 0);
#pragma clang loop unroll(full)
        for (int r = 0; r < mr; r++) acc[r][c] = _mm512_setzero_ps();
    }
    for (size_t j = 0; j < keys; j++) {
        __m512 values[4];
#pragma clang loop unroll(full)
        for (int c = 0; c < chunks; c++) values[c] = _mm512_maskz_loadu_ps(masks[c], v + j * stride + column + 16 * c);
#pragma clang loop unroll(full)
        for (int r = 0; r < mr; r++) {
            __m512 p = _mm512_set1_ps(scores[(size_t)r * kp + j]);
#pragma clang loop unroll(full)
            for (int c = 0; c < chunks; c++) acc[r][c] = _mm512_fmadd_ps(p, values[c], acc[r][c]);
        }
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++) {
        __m512 factor = _mm512_set1_ps(inverse[r]);
#pragma clang loop unroll(full)
        for (int c = 0; c < chunks; c++) {
            _mm512_mask_storeu_ps(out + (size_t)r * out_stride + column + 16 * c, masks[c], _mm512_mul_ps(acc[r][c], factor));
        }
    }
}

// Scores of `mr` query rows against `nb` blocks of 16 keys from `first`.
static inline __attribute__((always_inline))
void attention_scores(const float *q, size_t stride, const float *kt, size_t kp, size_t width, size_t first,
                      float *scores, const int mr, const int nb) {
    __m512 acc[4][4];
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++) {
#pragma clang loop unroll(full)
        for (int b = 0; b < nb; b++) acc[r][b] = _mm512_setzero_ps();
    }
    for (size_t d = 0; d < width; d++) {
        __m512 keys[4];
#pragma clang loop unroll(full)
        for (int b = 0; b < nb; b++) keys[b] = _mm512_loadu_ps(kt + d * kp + first + 16 * (size_t)b);
#pragma clang loop unroll(full)
        for (int r = 0; r < mr; r++) {
            __m512 x = _mm512_set1_ps(q[(size_t)r * stride + d]);
#pragma clang loop unroll(full)
            for (int b = 0; b < nb; b++) acc[r][b] = _mm512_fmadd_ps(x, keys[b], acc[r][b]);
        }
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++) {
#pragma clang loop unroll(full)
        for (int b = 0; b < nb; b++) _mm512_storeu_ps(scores + (size_t)r * kp + first + 16 * (size_t)b, acc[r][b]);
    }
}

// `mr` (1-4) query rows against the transposed, scaled keys `kt` (width × kp).
static inline __attribute__((always_inline))
void attention_rows(const ps_attention *h, size_t first_row, const int mr) {
    const float *q = h->q + first_row * h->stride, *kt = h->kt, *v = h->v;
    float *out = h->out + first_row * h->out_stride, *scores = h->scores;
    size_t stride = h->stride, kp = h->kp, out_stride = h->out_stride, width = h->width;
    size_t visible[4], most = ps_visible_keys(h, first_row, mr, visible);
    // Scores, up to 64 keys per pass: each query value broadcast once for
    // four blocks of 16 keys.
    for (size_t j = 0; j < most; j += 64) {
        size_t blocks = (most - j + 15) / 16;
        if (blocks >= 4) attention_scores(q, stride, kt, kp, width, j, scores, mr, 4);
        else if (blocks == 3) attention_scores(q, stride, kt, kp, width, j, scores, mr, 3);
        else if (blocks == 2) attention_scores(q, stride, kt, kp, width, j, scores, mr, 2);
        else attention_scores(q, stride, kt, kp, width, j, scores, mr, 1);
    }
    // Softmax over each row's visible keys; the rest become 0.
    float inverse[4];
    ps512_softmax_rows(scores, kp, visible, most, mr, inverse);
    for (size_t column = 0; column < width; column += 64) {
        size_t left = width - column;
        if (left > 48) attention_values(scores, kp, v, stride, most, column, width, inverse, out, out_stride, mr, 4);
        else if (left > 32) attention_values(scores, kp, v, stride, most, column, width, inverse, out, out_stride, mr, 3);
        else if (left > 16) attention_values(scores, kp, v, stride, most, column, width, inverse, out, out_stride, mr, 2);
        else attention_values(scores, kp, v, stride, most, column, width, inverse, out, out_stride, mr, 1);
    }
}

// Query rows `first ..< first + rows` of a head, `rows` a constant in each case.
static inline __attribute__((always_inline)) void attention_group(const void *head, size_t first, int rows) {
    switch (rows) {
    case 4: attention_rows(head, first, 4); break;
    case 3: attention_rows(head, first, 3); break;
    case 2: attention_rows(head, first, 2); break;
    default: attention_rows(head, first, 1); break;
    }
}

// One head as a pair of small matrix products: the keys transposed once
// (scaled, in 16 × 16 tiles), scores for four queries at a time against up
// to 64 keys, a vectorised softmax, then P·V four rows by up to 64 columns
// at a time.
static void attention_head(const float *q, const float *k, const float *v, size_t stride, float *out, size_t out_stride,
                           size_t queries, size_t keys, size_t width, float scale, long causal_first, float *scratch) {
    size_t seen = causal_first >= 0 && (size_t)causal_first + queries < keys ? (size_t)causal_first + queries : keys;
    size_t kp = (keys + 15) / 16 * 16;
    float *kt = scratch, *scores = scratch + width * kp;
    // Kᵀ, scaled, in 16 × 16 tiles; keys past `seen` are zeros.
    __m512 factor = _mm512_set1_ps(scale);
    for (size_t j = 0; j < kp; j += 16) {
        for (size_t d = 0; d < width; d += 16) {
            __mmask16 m = columns_mask(width - d);
            __m512 rows[16], columns[16];
            for (size_t r = 0; r < 16; r++) {
                rows[r] = j + r < seen ? _mm512_mul_ps(_mm512_maskz_loadu_ps(m, k + (j + r) * stride + d), factor)
                                       : _mm512_setzero_ps();
            }
            ps512_transpose16(rows, columns);
            for (size_t c = 0; c < 16 && d + c < width; c++) _mm512_storeu_ps(kt + (d + c) * kp + j, columns[c]);
        }
    }
    ps_attention head = {q, kt, v, out, scores, stride, kp, out_stride, keys, width, causal_first};
    ps_query_groups(queries, attention_group, &head);
}

// MARK: Layer normalisation

// Mean and variance (two passes) in 16 float lanes, the lanes summed in
// double precision.
static inline __attribute__((always_inline))
void layer_norm_row(const float *in, float *out, size_t width, const float *weight, const float *bias, float epsilon) {
    __m512 sum = _mm512_setzero_ps();
    for (size_t i = 0; i < width; i += 16) sum = _mm512_add_ps(sum, _mm512_maskz_loadu_ps(columns_mask(width - i), in + i));
    float lanes[16];
    _mm512_storeu_ps(lanes, sum);
    double total = 0;
    for (int i = 0; i < 16; i++) total += lanes[i];
    float mean = (float)(total / (double)width);
    __m512 centre = _mm512_set1_ps(mean), squares = _mm512_setzero_ps();
    for (size_t i = 0; i < width; i += 16) {
        __mmask16 m = columns_mask(width - i);
        __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, in + i), centre);
        squares = _mm512_fmadd_ps(d, d, squares);
    }
    _mm512_storeu_ps(lanes, squares);
    total = 0;
    for (int i = 0; i < 16; i++) total += lanes[i];
    __m512 inverse = _mm512_set1_ps((float)(1 / sqrt(total / (double)width + (double)epsilon)));
    for (size_t i = 0; i < width; i += 16) {
        __mmask16 m = columns_mask(width - i);
        __m512 value = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, in + i), centre), inverse);
        value = _mm512_fmadd_ps(value, _mm512_maskz_loadu_ps(m, weight + i), _mm512_maskz_loadu_ps(m, bias + i));
        _mm512_mask_storeu_ps(out + i, m, value);
    }
}

static void layer_norm(const float *x, float *y, size_t rows, size_t width, const float *weight, const float *bias,
                       float epsilon) {
    ps_layer_norm_rows(x, y, rows, width, weight, bias, epsilon, layer_norm_row);
}

// MARK: int8

// Rows quantised (see ps_kernels.quantize_rows) 16 values at a time, stored
// as the signed bytes u − 128, or (VNNI) as u; the same rounding as the
// portable code.
static inline void quantize_rows(const float *x, size_t ldx, size_t rows, size_t inputs, size_t padded, uint8_t *q,
                                 float *scales, int32_t *offsets, int unsigned_bytes) {
    const __m512 infinity = _mm512_set1_ps(INFINITY);
    for (size_t r = 0; r < rows; r++) {
        const float *row = x + r * ldx;
        __m512 smallest = _mm512_setzero_ps(), largest = _mm512_setzero_ps();
        int finite = 1;
        for (size_t k = 0; k < inputs; k += 16) {
            __mmask16 m = columns_mask(inputs - k);
            __m512 v = _mm512_maskz_loadu_ps(m, row + k);
            finite &= _mm512_cmp_ps_mask(_mm512_abs_ps(v), infinity, _CMP_LT_OQ) == 0xFFFF;
            smallest = _mm512_min_ps(smallest, v);
            largest = _mm512_max_ps(largest, v);
        }
        ps_q8_row parameters = ps_q8_row_parameters(_mm512_reduce_min_ps(smallest), _mm512_reduce_max_ps(largest), finite);
        int32_t shift = unsigned_bytes ? parameters.zero : parameters.zero - 128;
        uint8_t *out = q + r * padded;
        scales[r] = parameters.scale;
        offsets[r] = shift;
        if (!finite) {
            memset(out, 0, padded);
            continue;
        }
        __m512 factor = _mm512_set1_ps(parameters.inverse);
        __m512i added = _mm512_set1_epi32(shift);
        __m512i high = _mm512_set1_epi32(unsigned_bytes ? 255 : 127), low = _mm512_set1_epi32(unsigned_bytes ? 0 : -128);
        for (size_t k = 0; k < padded; k += 16) {
            __mmask16 m = columns_mask(inputs > k ? inputs - k : 0);
            __m512i v = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, row + k), factor)), added);
            v = _mm512_maskz_mov_epi32(m, _mm512_max_epi32(_mm512_min_epi32(v, high), low));   // padding: 0
            __m128i bytes = unsigned_bytes ? _mm512_cvtusepi32_epi8(v) : _mm512_cvtsepi32_epi8(v);
            _mm_mask_storeu_epi8(out + k, columns_mask(padded - k), bytes);
        }
    }
}

void ps_avx512_quantize_rows_s8(const float *x, size_t ldx, size_t rows, size_t inputs, size_t padded, uint8_t *q,
                                float *scales, int32_t *offsets) {
    quantize_rows(x, ldx, rows, inputs, padded, q, scales, offsets, 0);
}

void ps_avx512_quantize_rows_u8(const float *x, size_t ldx, size_t rows, size_t inputs, size_t padded, uint8_t *q,
                                float *scales, int32_t *offsets) {
    quantize_rows(x, ldx, rows, inputs, padded, q, scales, offsets, 1);
}

void ps_avx512_activate_quantize_rows_s8(const float *x, size_t ldx, size_t rows, size_t inputs, size_t padded,
                                         ps_activation activation, uint8_t *q, float *scales, int32_t *offsets) {
    const ps_activation_kernel activations[3] = {gelu, gelu_tanh, quick_gelu};
    ps_activate_quantize_with(activations, ps_avx512_quantize_rows_s8, x, ldx, rows, inputs, padded, activation, q, scales,
                              offsets);
}

void ps_avx512_activate_quantize_rows_u8(const float *x, size_t ldx, size_t rows, size_t inputs, size_t padded,
                                         ps_activation activation, uint8_t *q, float *scales, int32_t *offsets) {
    const ps_activation_kernel activations[3] = {gelu, gelu_tanh, quick_gelu};
    ps_activate_quantize_with(activations, ps_avx512_quantize_rows_u8, x, ldx, rows, inputs, padded, activation, q, scales,
                              offsets);
}

// `mr` rows (1-8) × `np` panels: |a| · (w negated where a < 0) through
// vpmaddubsw (AVX-512 has no vpsignb) and vpmaddwd.
static inline __attribute__((always_inline))
void block_q8(const uint8_t *q, const float *row_scales, const int32_t *row_offsets, size_t padded, const int8_t *panel,
              const float *column_scales, const int32_t *column_sums, float *c, size_t ldc, size_t width, const float *bias,
              int accumulate, const int mr, const int np) {
    const __m512i ones = _mm512_set1_epi16(1), zero = _mm512_setzero_si512();
    __m512i acc0[8], acc1[8];
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++) {
        acc0[r] = _mm512_setzero_si512();
        acc1[r] = _mm512_setzero_si512();
    }
    const int8_t *p1 = panel + padded * PS_PANEL;
    for (size_t g = 0; g < padded / PS_Q8_GROUP; g++) {
        __m512i w0 = _mm512_loadu_si512(panel + g * 64);
        __m512i w1 = np == 2 ? _mm512_loadu_si512(p1 + g * 64) : w0;
#pragma clang loop unroll(full)
        for (int r = 0; r < mr; r++) {
            int32_t four;
            memcpy(&four, q + (size_t)r * padded + g * 4, 4);
            __m512i a = _mm512_set1_epi32(four);
            __m512i magnitude = _mm512_abs_epi8(a);
            __mmask64 negative = _mm512_movepi8_mask(a);
            __m512i s0 = _mm512_mask_sub_epi8(w0, negative, zero, w0);
            acc0[r] = _mm512_add_epi32(acc0[r], _mm512_madd_epi16(_mm512_maddubs_epi16(magnitude, s0), ones));
            if (np == 2) {
                __m512i s1 = _mm512_mask_sub_epi8(w1, negative, zero, w1);
                acc1[r] = _mm512_add_epi32(acc1[r], _mm512_madd_epi16(_mm512_maddubs_epi16(magnitude, s1), ones));
            }
        }
    }
    __m512i sums0 = _mm512_maskz_loadu_epi32(columns_mask(width), column_sums);
    __m512i sums1 = np == 2 ? _mm512_maskz_loadu_epi32(columns_mask(width - 16), column_sums + 16) : sums0;
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++) {
        float *target = c + (size_t)r * ldc;
        ps512_store_q8(ps512_corrected(acc0[r], row_offsets[r], sums0), row_scales[r], column_scales, bias, target,
                       width < 16 ? width : 16, accumulate);
        if (np == 2) {
            ps512_store_q8(ps512_corrected(acc1[r], row_offsets[r], sums1), row_scales[r], column_scales + 16,
                           bias ? bias + 16 : NULL, target + 16, width - 16, accumulate);
        }
    }
}

static inline int rows_step8(size_t left) { return rows_step(left) > 8 ? 8 : rows_step(left); }

static inline __attribute__((always_inline)) void q8_tile(const void *args, ps_tile t) {
    const ps_q8_product *p = args;
    const int8_t *panel = p->packed + (t.column / PS_PANEL) * p->padded * PS_PANEL;
    const uint8_t *qr = p->q + t.row * p->padded;
    float *cr = p->c + t.row * p->ldc + t.column;
    int mr = t.rows;
#define PS_CALL(m, n) block_q8(qr, p->row_scales + t.row, p->row_offsets + t.row, p->padded, panel, p->column_scales + t.column, \
                               p->column_sums + t.column, cr, p->ldc, t.width, p->bias ? p->bias + t.column : NULL, p->accumulate, m, n)
    PS_TILE_SWITCH(PS_CALL)
#undef PS_CALL
}

static void linear_q8(const uint8_t *q, const float *row_scales, const int32_t *row_offsets, size_t rows, size_t padded,
                      const int8_t *packed, const float *column_scales, const int32_t *column_sums, float *c, size_t ldc,
                      size_t outputs, size_t first, size_t count, const float *bias, int accumulate) {
    ps_q8_product product = {q, packed, row_scales, row_offsets, column_scales, column_sums, bias, c, padded, ldc, accumulate};
    ps_linear_tiles(rows, outputs, first, count, 2 * PS_PANEL, rows_step8, q8_tile, &product);
}

void ps_avx512_linear_packed(const float *a, size_t lda, const float *packed, size_t inputs, float *c, size_t ldc,
                             size_t outputs, size_t rows, size_t first, size_t count, const float *bias, int accumulate) {
    linear_packed(a, lda, packed, inputs, c, ldc, outputs, rows, first, count, bias, accumulate);
}

void ps_avx512_attention_head(const float *q, const float *k, const float *v, size_t stride, float *out, size_t out_stride,
                              size_t queries, size_t keys, size_t width, float scale, long causal_first, float *scratch) {
    attention_head(q, k, v, stride, out, out_stride, queries, keys, width, scale, causal_first, scratch);
}

void ps_avx512_gelu(float *x, size_t count) { gelu(x, count); }
void ps_avx512_gelu_tanh(float *x, size_t count) { gelu_tanh(x, count); }
void ps_avx512_quick_gelu(float *x, size_t count) { quick_gelu(x, count); }

void ps_avx512_layer_norm(const float *x, float *y, size_t rows, size_t width, const float *weight, const float *bias,
                          float epsilon) {
    layer_norm(x, y, rows, width, weight, bias, epsilon);
}

#define PS_DW_LANES 16
#define PS_DW_PIXELS 8   // 7 weights, 8 sums and an input in registers
#include "depthwise.h"

void ps_avx512_depthwise_convolution(const float *in, size_t height, size_t width, size_t channels, const float *weight,
                                     const float *bias, size_t kernel, size_t stride, size_t padding, float *out,
                                     size_t out_height, size_t out_width, size_t first_row, size_t row_count) {
    depthwise_convolution(in, height, width, channels, weight, bias, kernel, stride, padding, out, out_height, out_width,
                          first_row, row_count);
}

#pragma clang attribute pop

const ps_kernels ps_avx512_kernels = {
    .depthwise_convolution = depthwise_convolution,
    .linear_packed = linear_packed,
    .gelu = gelu,
    .gelu_tanh = gelu_tanh,
    .quick_gelu = quick_gelu,
    .attention_head = attention_head,
    .attention_head_reduced = attention_head,
    .layer_norm = layer_norm,
    .dot_halves = ps_dot_halves_avx2,
    .dot_u4 = ps_dot_u4_avx2,
    .quantize_rows = ps_avx512_quantize_rows_s8,
    .activate_quantize_rows = ps_avx512_activate_quantize_rows_s8,
    .linear_q8 = linear_q8,
};

#endif
