// The AVX2 + FMA level (Haswell, Zen 1 and later; F16C, which every such CPU
// has, for float16 rows): 256-bit vectors, a 6 × 16 register-blocked matrix
// kernel, vectorised exp/erf for the activations, vpmaddubsw/vpmaddwd for the
// quantised vector scans.
#include "internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)

// `mr` (1-6) is a constant at each inlined call site, so the row loops unroll
// and the accumulators live in registers.
static inline __attribute__((always_inline))
void block_avx2(const float *a, size_t lda, const float *panel, size_t inputs,
                float *c, size_t ldc, size_t width, const float *bias, int accumulate, const int mr) {
    __m256 lo[6], hi[6];
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++) {
        lo[r] = _mm256_setzero_ps();
        hi[r] = _mm256_setzero_ps();
    }
    const float *w = panel;
    for (size_t k = 0; k < inputs; k++, w += PS_PANEL) {
        __m256 w0 = _mm256_loadu_ps(w);
        __m256 w1 = _mm256_loadu_ps(w + 8);
#pragma clang loop unroll(full)
        for (int r = 0; r < mr; r++) {
            __m256 x = _mm256_broadcast_ss(a + r * lda + k);
            lo[r] = _mm256_fmadd_ps(x, w0, lo[r]);
            hi[r] = _mm256_fmadd_ps(x, w1, hi[r]);
        }
    }
    if (width == PS_PANEL) {
        __m256 b0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
        __m256 b1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
#pragma clang loop unroll(full)
        for (int r = 0; r < mr; r++) {
            float *target = c + r * ldc;
            __m256 v0 = _mm256_add_ps(lo[r], b0), v1 = _mm256_add_ps(hi[r], b1);
            if (accumulate) {
                v0 = _mm256_add_ps(v0, _mm256_loadu_ps(target));
                v1 = _mm256_add_ps(v1, _mm256_loadu_ps(target + 8));
            }
            _mm256_storeu_ps(target, v0);
            _mm256_storeu_ps(target + 8, v1);
        }
    } else {
        // The last, partial panel: only `width` columns exist in C.
        float sums[6 * PS_PANEL];
#pragma clang loop unroll(full)
        for (int r = 0; r < mr; r++) {
            _mm256_storeu_ps(sums + r * PS_PANEL, lo[r]);
            _mm256_storeu_ps(sums + r * PS_PANEL + 8, hi[r]);
        }
        ps_write_block(sums, (size_t)mr, width, c, ldc, bias, accumulate);
    }
}

static void panel_avx2(const float *a, size_t lda, const float *panel, size_t inputs,
                            float *c, size_t ldc, size_t rows, size_t width, const float *bias, int accumulate) {
    size_t i = 0;
    for (; i + 6 <= rows; i += 6) {
        block_avx2(a + i * lda, lda, panel, inputs, c + i * ldc, ldc, width, bias, accumulate, 6);
    }
    const float *ar = a + i * lda;
    float *cr = c + i * ldc;
    switch (rows - i) {
    case 5: block_avx2(ar, lda, panel, inputs, cr, ldc, width, bias, accumulate, 5); break;
    case 4: block_avx2(ar, lda, panel, inputs, cr, ldc, width, bias, accumulate, 4); break;
    case 3: block_avx2(ar, lda, panel, inputs, cr, ldc, width, bias, accumulate, 3); break;
    case 2: block_avx2(ar, lda, panel, inputs, cr, ldc, width, bias, accumulate, 2); break;
    case 1: block_avx2(ar, lda, panel, inputs, cr, ldc, width, bias, accumulate, 1); break;
    default: break;
    }
}

// The activations' polynomials (activations.h) for 8 floats.
typedef __m256 ps_vf;
typedef int32_t ps_vi __attribute__((__vector_size__(32)));
#define ps_splat(c) _mm256_set1_ps(c)
#define ps_vmin _mm256_min_ps
#define ps_vmax _mm256_max_ps
#include "activations.h"

void ps_gelu_avx2(float *x, size_t count) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) _mm256_storeu_ps(x + i, ps_gelu(_mm256_loadu_ps(x + i)));
    ps_portable_gelu(x + i, count - i);
}

void ps_gelu_tanh_avx2(float *x, size_t count) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) _mm256_storeu_ps(x + i, ps_gelu_tanh(_mm256_loadu_ps(x + i)));
    ps_portable_gelu_tanh(x + i, count - i);
}

void ps_quick_gelu_avx2(float *x, size_t count) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) _mm256_storeu_ps(x + i, ps_quick_gelu(_mm256_loadu_ps(x + i)));
    ps_portable_quick_gelu(x + i, count - i);
}

static inline int32_t sum_epi32(__m256i x) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

static inline float horizontal_sum(__m256 v);

// Eight halves to floats a step (F16C's vcvtph2ps, exact), four sums of eight
// lanes; the rows two ahead are prefetched, a row being a few hundred
// scattered candidates' (a cache miss each, otherwise).
void ps_dot_halves_avx2(const float *query, const uint8_t *halves, const int64_t *rows, size_t count, size_t dimension,
                        float *out) {
    size_t bytes = 2 * dimension, blocks = dimension / 32;
    for (size_t r = 0; r < count; r++) {
        if (r + 2 < count) {
            const uint8_t *ahead = halves + (size_t)rows[r + 2] * bytes;
            for (size_t line = 0; line < bytes; line += 64) _mm_prefetch((const char *)(ahead + line), _MM_HINT_T0);
        }
        const uint8_t *row = halves + (size_t)rows[r] * bytes;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        for (size_t b = 0; b < blocks; b++) {
            const uint8_t *h = row + b * 64;
            const float *q = query + b * 32;
            a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)h)), _mm256_loadu_ps(q), a0);
            a1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + 16))), _mm256_loadu_ps(q + 8), a1);
            a2 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + 32))), _mm256_loadu_ps(q + 16), a2);
            a3 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + 48))), _mm256_loadu_ps(q + 24), a3);
        }
        float sum = horizontal_sum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
        for (size_t k = blocks * 32; k < dimension; k++) {
            uint16_t bits;
            memcpy(&bits, row + 2 * k, 2);
            sum += query[k] * _cvtsh_ss(bits);
        }
        out[r] = sum;
    }
}

// 64 dimensions from 32 bytes of nibbles.
static inline __m256i dot64_u4(__m256i packed, __m256i q_low, __m256i q_high, __m256i mask, __m256i ones) {
    __m256i low = _mm256_and_si256(packed, mask);
    __m256i high = _mm256_and_si256(_mm256_srli_epi16(packed, 4), mask);
    __m256i pairs = _mm256_add_epi16(_mm256_maddubs_epi16(low, q_low), _mm256_maddubs_epi16(high, q_high));
    return _mm256_madd_epi16(pairs, ones);
}

void ps_dot_u4_avx2(const int8_t *query, const uint8_t *vectors, size_t rows, size_t dimension, int32_t *out) {
    const __m256i ones = _mm256_set1_epi16(1), mask = _mm256_set1_epi8(15);
    size_t blocks = dimension / 64, bytes = dimension / 2;
    size_t i = 0;
    for (; i + 4 <= rows; i += 4) {
        const uint8_t *v0 = vectors + i * bytes, *v1 = v0 + bytes, *v2 = v1 + bytes, *v3 = v2 + bytes;
        __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();
        __m256i a2 = _mm256_setzero_si256(), a3 = _mm256_setzero_si256();
        for (size_t b = 0; b < blocks; b++) {
            __m256i ql = _mm256_loadu_si256((const __m256i *)(query + b * 64));
            __m256i qh = _mm256_loadu_si256((const __m256i *)(query + b * 64 + 32));
            a0 = _mm256_add_epi32(a0, dot64_u4(_mm256_loadu_si256((const __m256i *)(v0 + b * 32)), ql, qh, mask, ones));
            a1 = _mm256_add_epi32(a1, dot64_u4(_mm256_loadu_si256((const __m256i *)(v1 + b * 32)), ql, qh, mask, ones));
            a2 = _mm256_add_epi32(a2, dot64_u4(_mm256_loadu_si256((const __m256i *)(v2 + b * 32)), ql, qh, mask, ones));
            a3 = _mm256_add_epi32(a3, dot64_u4(_mm256_loadu_si256((const __m256i *)(v3 + b * 32)), ql, qh, mask, ones));
        }
        out[i] = sum_epi32(a0);
        out[i + 1] = sum_epi32(a1);
        out[i + 2] = sum_epi32(a2);
        out[i + 3] = sum_epi32(a3);
    }
    if (i < rows) ps_portable_dot_u4(query, vectors + i * bytes, rows - i, dimension, out + i);
}


// MARK: int8

// Rows quantised (see ps_kernels.quantize_rows) and stored as the signed
// bytes u − 128, 32 values at a time; the same rounding as the portable code
// (nearest, ties to even).
void ps_avx2_quantize_rows_s8(const float *x, size_t ldx, size_t rows, size_t inputs, size_t padded, uint8_t *q,
                              float *scales, int32_t *offsets) {
    const __m256 infinity = _mm256_set1_ps(INFINITY), sign = _mm256_set1_ps(-0.0f);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (size_t r = 0; r < rows; r++) {
        const float *row = x + r * ldx;
        __m256 smallest = _mm256_setzero_ps(), largest = _mm256_setzero_ps();
        int finite = 1;
        size_t k = 0;
        for (; k + 8 <= inputs; k += 8) {
            __m256 v = _mm256_loadu_ps(row + k);
            finite &= _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, v), infinity, _CMP_LT_OQ)) == 0xFF;
            smallest = _mm256_min_ps(smallest, v);
            largest = _mm256_max_ps(largest, v);
        }
        float low[8], high[8];
        _mm256_storeu_ps(low, smallest);
        _mm256_storeu_ps(high, largest);
        float lo = 0, hi = 0;
        for (int i = 0; i < 8; i++) {
            lo = low[i] < lo ? low[i] : lo;
            hi = high[i] > hi ? high[i] : hi;
        }
        for (size_t t = k; t < inputs; t++) {
            finite &= isfinite(row[t]) != 0;
            lo = row[t] < lo ? row[t] : lo;
            hi = row[t] > hi ? row[t] : hi;
        }
        ps_q8_row parameters = ps_q8_row_parameters(lo, hi, finite);
        uint8_t *out = q + r * padded;
        scales[r] = parameters.scale;
        offsets[r] = parameters.zero - 128;
        if (!finite) {
            memset(out, 0, padded);
            continue;
        }
        __m256 factor = _mm256_set1_ps(parameters.inverse);
        __m256i shift = _mm256_set1_epi32(parameters.zero - 128);
        const __m256i high_limit = _mm256_set1_epi32(127), low_limit = _mm256_set1_epi32(-128);
        k = 0;
        for (; k + 32 <= inputs; k += 32) {
            __m256i v[4];
            for (int i = 0; i < 4; i++) {
                v[i] = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(row + k + 8 * i), factor)), shift);
                v[i] = _mm256_max_epi32(_mm256_min_epi32(v[i], high_limit), low_limit);
            }
            __m256i words = _mm256_packs_epi16(_mm256_packs_epi32(v[0], v[1]), _mm256_packs_epi32(v[2], v[3]));
            _mm256_storeu_si256((__m256i *)(out + k), _mm256_permutevar8x32_epi32(words, order));
        }
        for (; k < inputs; k++) out[k] = ps_q8_activation(row[k], parameters) ^ 0x80;
        for (; k < padded; k++) out[k] = 0;
    }
}

static void activate_quantize_rows(const float *x, size_t ldx, size_t rows, size_t inputs, size_t padded,
                                   ps_activation activation, uint8_t *q, float *scales, int32_t *offsets) {
    const ps_activation_kernel activations[3] = {ps_gelu_avx2, ps_gelu_tanh_avx2, ps_quick_gelu_avx2};
    ps_activate_quantize_with(activations, ps_avx2_quantize_rows_s8, x, ldx, rows, inputs, padded, activation, q, scales,
                              offsets);
}

// The epilogue of 8 sums (columns column ..< column + 8 of one row).
static inline void store_q8(__m256i sums, int32_t row_offset, const int32_t *column_sums, float row_scale,
                            const float *column_scales, const float *bias, float *target, size_t width, int accumulate) {
    if (width == 8) {
        __m256i corrected = _mm256_sub_epi32(sums, _mm256_mullo_epi32(_mm256_set1_epi32(row_offset),
                                                                      _mm256_loadu_si256((const __m256i *)column_sums)));
        __m256 scale = _mm256_mul_ps(_mm256_set1_ps(row_scale), _mm256_loadu_ps(column_scales));
        __m256 value = _mm256_mul_ps(_mm256_cvtepi32_ps(corrected), scale);
        if (bias) value = _mm256_add_ps(value, _mm256_loadu_ps(bias));
        if (accumulate) value = _mm256_add_ps(value, _mm256_loadu_ps(target));
        _mm256_storeu_ps(target, value);
    } else {
        int32_t lanes[8];
        _mm256_storeu_si256((__m256i *)lanes, sums);
        for (size_t j = 0; j < width; j++) {
            target[j] = ps_q8_result(lanes[j], row_offset, column_sums[j], row_scale, column_scales[j], bias, j,
                                     accumulate ? target + j : NULL);
        }
    }
}

// Up to 4 rows × one panel (16 outputs, two registers): per group of 4
// inputs, |a| · sign(w, a) through vpmaddubsw (|a| ≤ 128, so the pairwise
// 16-bit sums cannot saturate: 2 · 128 · 127 < 32768) and vpmaddwd.
static inline __attribute__((always_inline))
void block_q8_avx2(const uint8_t *q, const float *row_scales, const int32_t *row_offsets, size_t padded, const int8_t *panel,
                   const float *column_scales, const int32_t *column_sums, float *c, size_t ldc, size_t width,
                   const float *bias, int accumulate, const int mr) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i low[4], high[4];
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++) {
        low[r] = _mm256_setzero_si256();
        high[r] = _mm256_setzero_si256();
    }
    for (size_t g = 0; g < padded / PS_Q8_GROUP; g++) {
        __m256i w0 = _mm256_loadu_si256((const __m256i *)(panel + g * 64));
        __m256i w1 = _mm256_loadu_si256((const __m256i *)(panel + g * 64 + 32));
#pragma clang loop unroll(full)
        for (int r = 0; r < mr; r++) {
            int32_t four;
            memcpy(&four, q + (size_t)r * padded + g * 4, 4);
            __m256i a = _mm256_set1_epi32(four);
            __m256i magnitude = _mm256_abs_epi8(a);
            low[r] = _mm256_add_epi32(low[r], _mm256_madd_epi16(_mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(w0, a)), ones));
            high[r] = _mm256_add_epi32(high[r], _mm256_madd_epi16(_mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(w1, a)), ones));
        }
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++) {
        float *target = c + (size_t)r * ldc;
        store_q8(low[r], row_offsets[r], column_sums, row_scales[r], column_scales, bias, target, width < 8 ? width : 8,
                 accumulate);
        if (width > 8) {
            store_q8(high[r], row_offsets[r], column_sums + 8, row_scales[r], column_scales + 8, bias ? bias + 8 : NULL,
                     target + 8, width - 8, accumulate);
        }
    }
}

#define PS_Q8_AVX2_CALL(m)                                                                                             \
    block_q8_avx2(q + i * padded, row_scales + i, row_offsets + i, padded, panel, column_scales, column_sums, c + i * ldc, \
                  ldc, width, bias, accumulate, m)

static void panel_q8_avx2(const uint8_t *q, const float *row_scales, const int32_t *row_offsets, size_t rows, size_t padded,
                          const int8_t *panel, const float *column_scales, const int32_t *column_sums, float *c, size_t ldc,
                          size_t width, const float *bias, int accumulate) {
    size_t i = 0;
    for (; i + 4 <= rows; i += 4) PS_Q8_AVX2_CALL(4);
    switch (rows - i) {
    case 3: PS_Q8_AVX2_CALL(3); break;
    case 2: PS_Q8_AVX2_CALL(2); break;
    case 1: PS_Q8_AVX2_CALL(1); break;
    default: break;
    }
}

static void linear_q8(const uint8_t *q, const float *row_scales, const int32_t *row_offsets, size_t rows, size_t padded,
                      const int8_t *packed, const float *column_scales, const int32_t *column_sums, float *c, size_t ldc,
                      size_t outputs, size_t first, size_t count, const float *bias, int accumulate) {
    ps_linear_q8_by_panels(panel_q8_avx2, q, row_scales, row_offsets, rows, padded, packed, column_scales, column_sums, c,
                           ldc, outputs, first, count, bias, accumulate);
}

static void linear_packed(const float *a, size_t lda, const float *packed, size_t inputs,
                          float *c, size_t ldc, size_t outputs, size_t rows, size_t first, size_t count,
                          const float *bias, int accumulate) {
    ps_linear_by_panels(panel_avx2, a, lda, packed, inputs, c, ldc, outputs, rows, first, count, bias, accumulate);
}

// Lanes 0 ..< count of 8 set (count may exceed 8), as a maskload mask.
static inline __m256i lanes_below(size_t count) {
    __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(count > 8 ? 8 : (int)count), index);
}

static inline float horizontal_max(__m256 v) {
    __m128 x = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_max_ps(x, _mm_movehl_ps(x, x));
    x = _mm_max_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

static inline float horizontal_sum(__m256 v) {
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

// P·V for `mr` rows and 16 columns from `column`, over keys `from ..< to`:
// out_r = inverse_r · Σ_j p_rj v_j. A pass over part of the keys carries its
// sums in `partial` (mr × 16 floats): they start there unless `first`, and
// end there unless `last`, when they are scaled into `out`.
static inline __attribute__((always_inline))
void attention_values_avx2(const float *scores, size_t kp, const float *v, size_t stride, size_t from, size_t to,
                           size_t column, size_t width, const float *inverse, float *out, size_t out_stride,
                           float *partial, int first, int last, const int mr) {
    __m256 acc[6][2];
    __m256i masks[2] = {lanes_below(width - column), lanes_below(width > column + 8 ? width - column - 8 : 0)};
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++) {
        acc[r][0] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(partial + 16 * r);
        acc[r][1] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(partial + 16 * r + 8);
    }
    // A whole block of 16 columns (every block of a 64-wide head) needs no
    // masks: masked loads cost twice a plain one, and the masks, spilled,
    // were made again at every key.
#define PS_VALUES_LOOP(load0, load1)                                           \
    for (size_t j = from; j < to; j++) {                                       \
        __m256 v0 = load0, v1 = load1;                                         \
        _Pragma("clang loop unroll(full)")                                     \
        for (int r = 0; r < mr; r++) {                                         \
            __m256 p = _mm256_broadcast_ss(scores + (size_t)r * kp + j);      \
            acc[r][0] = _mm256_fmadd_ps(p, v0, acc[r][0]);                     \
            acc[r][1] = _mm256_fmadd_ps(p, v1, acc[r][1]);                     \
        }                                                                      \
    }
    if (width - column >= 16) {
        PS_VALUES_LOOP(_mm256_loadu_ps(v + j * stride + column), _mm256_loadu_ps(v + j * stride + column + 8))
    } else {
        PS_VALUES_LOOP(_mm256_maskload_ps(v + j * stride + column, masks[0]),
                       _mm256_maskload_ps(v + j * stride + column + 8, masks[1]))
    }
#undef PS_VALUES_LOOP
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++) {
        if (!last) {
            _mm256_storeu_ps(partial + 16 * r, acc[r][0]);
            _mm256_storeu_ps(partial + 16 * r + 8, acc[r][1]);
            continue;
        }
        __m256 factor = _mm256_set1_ps(inverse[r]);
        float *target = out + (size_t)r * out_stride + column;
        _mm256_maskstore_ps(target, masks[0], _mm256_mul_ps(acc[r][0], factor));
        _mm256_maskstore_ps(target + 8, masks[1], _mm256_mul_ps(acc[r][1], factor));
    }
}

// Scores of `mr` (1-6) query rows against keys `j ..< j + 16` of the
// transposed, scaled keys `kt` (width × kp): twelve sums in flight, as many
// as the two FMA pipes need to hide their latency (four rows kept them 80 %
// busy at best).
static inline __attribute__((always_inline))
void attention_scores_avx2(const float *q, size_t stride, const float *kt, size_t kp, size_t width, size_t j,
                           float *scores, const int mr) {
    __m256 acc[6][2];
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (size_t d = 0; d < width; d++) {
        __m256 k0 = _mm256_loadu_ps(kt + d * kp + j), k1 = _mm256_loadu_ps(kt + d * kp + j + 8);
#pragma clang loop unroll(full)
        for (int r = 0; r < mr; r++) {
            __m256 x = _mm256_broadcast_ss(q + (size_t)r * stride + d);
            acc[r][0] = _mm256_fmadd_ps(x, k0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(x, k1, acc[r][1]);
        }
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++) {
        _mm256_storeu_ps(scores + (size_t)r * kp + j, acc[r][0]);
        _mm256_storeu_ps(scores + (size_t)r * kp + j + 8, acc[r][1]);
    }
}

// Scores → probabilities in place, each row over the keys it sees, zero
// beyond them up to `most`; `inverse` gets 1 / each row's sum.
static inline __attribute__((always_inline))
void attention_softmax_avx2(float *scores, size_t kp, const size_t *visible, size_t most, float *inverse, const int mr) {
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++) {
        float *s = scores + (size_t)r * kp;
        __m256 largest = _mm256_set1_ps(-INFINITY);
        for (size_t j = 0; j < visible[r]; j += 8) {
            __m256 keep = _mm256_castsi256_ps(lanes_below(visible[r] - j));
            largest = _mm256_max_ps(largest, _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), _mm256_loadu_ps(s + j), keep));
        }
        __m256 maximum = _mm256_set1_ps(horizontal_max(largest));
        __m256 total = _mm256_setzero_ps();
        for (size_t j = 0; j < most; j += 8) {
            __m256 keep = _mm256_castsi256_ps(lanes_below(visible[r] > j ? visible[r] - j : 0));
            __m256 e = _mm256_and_ps(keep, ps_exp(_mm256_sub_ps(_mm256_loadu_ps(s + j), maximum)));
            _mm256_storeu_ps(s + j, e);
            total = _mm256_add_ps(total, e);
        }
        inverse[r] = 1.0f / horizontal_sum(total);
    }
}

// `mr` (1-6) query rows from `first_row`.
static inline __attribute__((always_inline))
void attention_rows_avx2(const ps_attention *h, size_t first_row, const int mr) {
    const float *q = h->q + first_row * h->stride;
    float *out = h->out + first_row * h->out_stride;
    size_t visible[6], most = ps_visible_keys(h, first_row, mr, visible);
    for (size_t j = 0; j < most; j += 16) attention_scores_avx2(q, h->stride, h->kt, h->kp, h->width, j, h->scores, mr);
    float inverse[6];
    attention_softmax_avx2(h->scores, h->kp, visible, most, inverse, mr);
    for (size_t column = 0; column < h->width; column += 16)
        attention_values_avx2(h->scores, h->kp, h->v, h->stride, 0, most, column, h->width, inverse, out,
                              h->out_stride, NULL, 1, 1, mr);
}

// Twelve query rows from `first_row` as two tiles of six that share each
// block of keys and of values while it is in the L1 cache: a head's keys
// and values are read from L2 (or beyond: at 1 024 keys both together
// outgrow the 512 KiB L2 of a Zen 2) once for twelve rows instead of six.
static void attention_twelve_avx2(const ps_attention *h, size_t first_row) {
    const float *q = h->q + first_row * h->stride;
    float *out = h->out + first_row * h->out_stride, *scores = h->scores;
    size_t kp = h->kp, stride = h->stride, width = h->width;
    size_t visible[12];
    size_t most = ps_visible_keys(h, first_row, 6, visible), also = ps_visible_keys(h, first_row + 6, 6, visible + 6);
    most = also > most ? also : most;
    for (size_t j = 0; j < most; j += 16) {
        attention_scores_avx2(q, stride, h->kt, kp, width, j, scores, 6);
        attention_scores_avx2(q + 6 * stride, stride, h->kt, kp, width, j, scores + 6 * kp, 6);
    }
    float inverse[12];
    attention_softmax_avx2(scores, kp, visible, most, inverse, 6);
    attention_softmax_avx2(scores + 6 * kp, kp, visible + 6, most, inverse + 6, 6);
    // 128 keys of a 16-column block are 8 KiB of values.
    float partial[2][6 * 16];
    for (size_t column = 0; column < width; column += 16) {
        for (size_t from = 0; from < most; from += 128) {
            size_t to = most - from > 128 ? from + 128 : most;
            int first = from == 0, last = to == most;
            attention_values_avx2(scores, kp, h->v, stride, from, to, column, width, inverse, out, h->out_stride,
                                  partial[0], first, last, 6);
            attention_values_avx2(scores + 6 * kp, kp, h->v, stride, from, to, column, width, inverse + 6,
                                  out + 6 * h->out_stride, h->out_stride, partial[1], first, last, 6);
        }
    }
}

// Query rows `first ..< first + rows` of a head, `rows` a constant in each case.
static inline __attribute__((always_inline)) void attention_group(const void *head, size_t first, int rows) {
    switch (rows) {
    case 6: attention_rows_avx2(head, first, 6); break;
    case 5: attention_rows_avx2(head, first, 5); break;
    case 4: attention_rows_avx2(head, first, 4); break;
    case 3: attention_rows_avx2(head, first, 3); break;
    case 2: attention_rows_avx2(head, first, 2); break;
    default: attention_rows_avx2(head, first, 1); break;
    }
}

// One head as a pair of small matrix products (see the AVX-512 level).
static void attention_head(const float *q, const float *k, const float *v, size_t stride,
                           float *out, size_t out_stride, size_t queries, size_t keys, size_t width,
                           float scale, long causal_first, float *scratch) {
    size_t seen = causal_first >= 0 && (size_t)causal_first + queries < keys ? (size_t)causal_first + queries : keys;
    size_t kp = ps_attention_key_stride(keys);
    float *kt = scratch, *scores = scratch + width * kp;
    for (size_t j = 0; j < seen; j++) {
        for (size_t d = 0; d < width; d++) kt[d * kp + j] = scale * k[j * stride + d];
    }
    for (size_t d = 0; d < width; d++) {
        for (size_t j = seen; j < kp; j++) kt[d * kp + j] = 0;
    }
    ps_attention head = {q, kt, v, out, scores, stride, kp, out_stride, keys, width, causal_first};
    size_t i = 0;
    for (; i + 12 <= queries; i += 12) attention_twelve_avx2(&head, i);
    for (; i < queries; i += 6) attention_group(&head, i, queries - i >= 6 ? 6 : (int)(queries - i));
}

// Mean and variance (two passes) in 8 float lanes, the lanes summed in
// double precision.
static inline __attribute__((always_inline))
void layer_norm_row(const float *in, float *out, size_t width, const float *weight, const float *bias, float epsilon) {
    __m256 sum = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= width; i += 8) sum = _mm256_add_ps(sum, _mm256_loadu_ps(in + i));
    float lanes[8];
    _mm256_storeu_ps(lanes, sum);
    double total = 0;
    for (int l = 0; l < 8; l++) total += lanes[l];
    for (size_t t = i; t < width; t++) total += in[t];
    float mean = (float)(total / (double)width);
    __m256 centre = _mm256_set1_ps(mean), squares = _mm256_setzero_ps();
    for (i = 0; i + 8 <= width; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(in + i), centre);
        squares = _mm256_fmadd_ps(d, d, squares);
    }
    _mm256_storeu_ps(lanes, squares);
    total = 0;
    for (int l = 0; l < 8; l++) total += lanes[l];
    for (size_t t = i; t < width; t++) total += (double)(in[t] - mean) * (double)(in[t] - mean);
    float scale = (float)(1 / sqrt(total / (double)width + (double)epsilon));
    __m256 inverse = _mm256_set1_ps(scale);
    for (i = 0; i + 8 <= width; i += 8) {
        __m256 value = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(in + i), centre), inverse);
        _mm256_storeu_ps(out + i, _mm256_fmadd_ps(value, _mm256_loadu_ps(weight + i), _mm256_loadu_ps(bias + i)));
    }
    for (; i < width; i++) out[i] = (in[i] - mean) * scale * weight[i] + bias[i];
}

static void layer_norm(const float *x, float *y, size_t rows, size_t width, const float *weight, const float *bias,
                       float epsilon) {
    ps_layer_norm_rows(x, y, rows, width, weight, bias, epsilon, layer_norm_row);
}

#define PS_DW_LANES 8
#define PS_DW_PIXELS 6   // 7 weights, 6 sums and an input in registers
#include "depthwise.h"

#pragma clang attribute pop

const ps_kernels ps_avx2_kernels = {
    .depthwise_convolution = depthwise_convolution,
    .linear_packed = linear_packed,
    .gelu = ps_gelu_avx2,
    .gelu_tanh = ps_gelu_tanh_avx2,
    .quick_gelu = ps_quick_gelu_avx2,
    .attention_head = attention_head,
    .attention_head_reduced = attention_head,
    .layer_norm = layer_norm,
    .dot_halves = ps_dot_halves_avx2,
    .dot_u4 = ps_dot_u4_avx2,
    .quantize_rows = ps_avx2_quantize_rows_s8,
    .activate_quantize_rows = activate_quantize_rows,
    .linear_q8 = linear_q8,
};

#endif
