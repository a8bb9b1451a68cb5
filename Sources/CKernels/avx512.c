// The AVX-512 level (F, BW, DQ, VL: Skylake-X, Zen 4 and later): 512-bit
// vectors, a 12 × 32 register-blocked float kernel over two panels at once,
// masked stores for ragged edges, and the int8 product through vpmaddubsw and
// vpmaddwd. Activations and vector scans reuse the AVX2 kernels.
#include "internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma"))), apply_to = function)

static inline __mmask16 columns_mask(size_t width) {
    return width >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << width) - 1);
}

// MARK: Float products

// `mr` rows (1-12) × `np` panels (1 or 2), both constants where it is inlined.
static inline __attribute__((always_inline))
void block_f32(const float *a, size_t lda, const float *panel, size_t inputs, float *c, size_t ldc,
               size_t width, const float *bias, int accumulate, const int mr, const int np) {
    __m512 acc0[12], acc1[12];
    for (int r = 0; r < mr; r++) {
        acc0[r] = _mm512_setzero_ps();
        acc1[r] = _mm512_setzero_ps();
    }
    const float *p0 = panel, *p1 = panel + inputs * PS_PANEL;
    for (size_t k = 0; k < inputs; k++) {
        __m512 b0 = _mm512_loadu_ps(p0 + k * PS_PANEL);
        __m512 b1 = np == 2 ? _mm512_loadu_ps(p1 + k * PS_PANEL) : b0;
        for (int r = 0; r < mr; r++) {
            __m512 x = _mm512_set1_ps(a[(size_t)r * lda + k]);
            acc0[r] = _mm512_fmadd_ps(x, b0, acc0[r]);
            if (np == 2) acc1[r] = _mm512_fmadd_ps(x, b1, acc1[r]);
        }
    }
    __mmask16 m0 = columns_mask(width), m1 = columns_mask(width > 16 ? width - 16 : 0);
    __m512 bias0 = bias ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
    __m512 bias1 = bias && np == 2 ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();
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

static void linear_packed(const float *a, size_t lda, const float *packed, size_t inputs, float *c, size_t ldc,
                          size_t outputs, size_t rows, size_t first, size_t count, const float *bias, int accumulate) {
    size_t end = first + count < outputs ? first + count : outputs;
    for (size_t row = 0; row < rows; row += PS_ROW_CHUNK) {
        size_t chunk = rows - row < PS_ROW_CHUNK ? rows - row : PS_ROW_CHUNK;
        for (size_t column = first; column < end; column += 2 * PS_PANEL) {
            const float *panel = packed + (column / PS_PANEL) * inputs * PS_PANEL;
            size_t width = end - column < 2 * PS_PANEL ? end - column : 2 * PS_PANEL;
            const float *panel_bias = bias ? bias + column : NULL;
            for (size_t i = 0; i < chunk;) {
                int mr = rows_step(chunk - i);
                const float *ar = a + (row + i) * lda;
                float *cr = c + (row + i) * ldc + column;
#define PS_CALL(m, n) block_f32(ar, lda, panel, inputs, cr, ldc, width, panel_bias, accumulate, m, n)
                if (width > PS_PANEL) {
                    PS_ROWS_SWITCH(PS_CALL, 2)
                } else {
                    PS_ROWS_SWITCH(PS_CALL, 1)
                }
#undef PS_CALL
                i += (size_t)mr;
            }
        }
    }
}

// MARK: Attention

static float dot_avx512(const float *a, const float *b, size_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i < n; i += 16) {
        __mmask16 m = columns_mask(n - i);
        s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static void axpy_avx512(float alpha, const float *x, float *y, size_t n) {
    __m512 factor = _mm512_set1_ps(alpha);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = columns_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(factor, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
    }
}

static void attention_head(const float *q, const float *k, const float *v, size_t stride, float *out, size_t out_stride,
                           size_t queries, size_t keys, size_t width, float scale, long causal_first, float *scratch) {
    ps_attention_with(dot_avx512, axpy_avx512, q, k, v, stride, out, out_stride, queries, keys, width, scale, causal_first,
                      scratch);
}

// MARK: int8

// Rows quantised 16 values at a time, as signed bytes, or (VNNI) unsigned
// bytes q + 128; the same rounding as the portable code.
static inline void quantize_rows(const float *x, size_t ldx, size_t rows, size_t inputs, size_t padded, uint8_t *q,
                                 float *scales, int unsigned_bytes) {
    const __m512 infinity = _mm512_set1_ps(INFINITY);
    const __m512i high = _mm512_set1_epi32(127), low = _mm512_set1_epi32(-127);
    const __m128i flip = _mm_set1_epi8((char)0x80);
    for (size_t r = 0; r < rows; r++) {
        const float *row = x + r * ldx;
        __m512 largest = _mm512_setzero_ps();
        int finite = 1;
        for (size_t k = 0; k < inputs; k += 16) {
            __mmask16 m = columns_mask(inputs - k);
            __m512 magnitude = _mm512_abs_ps(_mm512_maskz_loadu_ps(m, row + k));
            finite &= _mm512_cmp_ps_mask(magnitude, infinity, _CMP_LT_OQ) == 0xFFFF;
            largest = _mm512_max_ps(largest, magnitude);
        }
        float most = _mm512_reduce_max_ps(largest);
        float scale = !finite ? NAN : most > 0 ? most / 127.0f : 1.0f;
        float inverse = 1.0f / scale;
        __m512 factor = _mm512_set1_ps(inverse);
        uint8_t *out = q + r * padded;
        for (size_t k = 0; k < padded; k += 16) {
            __mmask16 m = columns_mask(inputs > k ? inputs - k : 0);
            __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, row + k), factor));
            __m128i bytes = _mm512_cvtsepi32_epi8(_mm512_max_epi32(_mm512_min_epi32(v, high), low));
            if (unsigned_bytes) bytes = _mm_xor_si128(bytes, flip);
            _mm_mask_storeu_epi8(out + k, columns_mask(padded - k), bytes);
        }
        scales[r] = scale;
    }
}

void ps_avx512_quantize_rows_s8(const float *x, size_t ldx, size_t rows, size_t inputs, size_t padded, uint8_t *q,
                                float *scales) {
    quantize_rows(x, ldx, rows, inputs, padded, q, scales, 0);
}

void ps_avx512_quantize_rows_u8(const float *x, size_t ldx, size_t rows, size_t inputs, size_t padded, uint8_t *q,
                                float *scales) {
    quantize_rows(x, ldx, rows, inputs, padded, q, scales, 1);
}

void ps_avx512_store_q8(__m512i sums, float row_scale, const float *column_scales, const float *bias, float *target,
                        size_t width, int accumulate) {
    __mmask16 m = columns_mask(width);
    __m512 scale = _mm512_mul_ps(_mm512_set1_ps(row_scale), _mm512_maskz_loadu_ps(m, column_scales));
    __m512 value = _mm512_mul_ps(_mm512_cvtepi32_ps(sums), scale);
    if (bias) value = _mm512_add_ps(value, _mm512_maskz_loadu_ps(m, bias));
    if (accumulate) value = _mm512_add_ps(value, _mm512_maskz_loadu_ps(m, target));
    _mm512_mask_storeu_ps(target, m, value);
}

// `mr` rows (1-8) × `np` panels: |a| · (w negated where a < 0) through
// vpmaddubsw (AVX-512 has no vpsignb) and vpmaddwd.
static inline __attribute__((always_inline))
void block_q8(const uint8_t *q, const float *row_scales, size_t padded, const int8_t *panel, const float *column_scales,
              float *c, size_t ldc, size_t width, const float *bias, int accumulate, const int mr, const int np) {
    const __m512i ones = _mm512_set1_epi16(1), zero = _mm512_setzero_si512();
    __m512i acc0[8], acc1[8];
    for (int r = 0; r < mr; r++) {
        acc0[r] = _mm512_setzero_si512();
        acc1[r] = _mm512_setzero_si512();
    }
    const int8_t *p1 = panel + padded * PS_PANEL;
    for (size_t g = 0; g < padded / PS_Q8_GROUP; g++) {
        __m512i w0 = _mm512_loadu_si512(panel + g * 64);
        __m512i w1 = np == 2 ? _mm512_loadu_si512(p1 + g * 64) : w0;
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
    for (int r = 0; r < mr; r++) {
        float *target = c + (size_t)r * ldc;
        ps_avx512_store_q8(acc0[r], row_scales[r], column_scales, bias, target, width < 16 ? width : 16, accumulate);
        if (np == 2) {
            ps_avx512_store_q8(acc1[r], row_scales[r], column_scales + 16, bias ? bias + 16 : NULL, target + 16, width - 16, accumulate);
        }
    }
}

static void linear_q8(const uint8_t *q, const float *row_scales, size_t rows, size_t padded, const int8_t *packed,
                      const float *column_scales, const int32_t *column_sums, float *c, size_t ldc, size_t outputs,
                      size_t first, size_t count, const float *bias, int accumulate) {
    (void)column_sums;
    size_t end = first + count < outputs ? first + count : outputs;
    for (size_t row = 0; row < rows; row += PS_ROW_CHUNK) {
        size_t chunk = rows - row < PS_ROW_CHUNK ? rows - row : PS_ROW_CHUNK;
        for (size_t column = first; column < end; column += 2 * PS_PANEL) {
            const int8_t *panel = packed + (column / PS_PANEL) * padded * PS_PANEL;
            size_t width = end - column < 2 * PS_PANEL ? end - column : 2 * PS_PANEL;
            for (size_t i = 0; i < chunk;) {
                int mr = rows_step(chunk - i) > 8 ? 8 : rows_step(chunk - i);
                const uint8_t *qr = q + (row + i) * padded;
                float *cr = c + (row + i) * ldc + column;
#define PS_CALL(m, n) block_q8(qr, row_scales + row + i, padded, panel, column_scales + column, cr, ldc, width, \
                               bias ? bias + column : NULL, accumulate, m, n)
                if (width > PS_PANEL) {
                    PS_ROWS_SWITCH(PS_CALL, 2)
                } else {
                    PS_ROWS_SWITCH(PS_CALL, 1)
                }
#undef PS_CALL
                i += (size_t)mr;
            }
        }
    }
}

void ps_avx512_linear_packed(const float *a, size_t lda, const float *packed, size_t inputs, float *c, size_t ldc,
                             size_t outputs, size_t rows, size_t first, size_t count, const float *bias, int accumulate) {
    linear_packed(a, lda, packed, inputs, c, ldc, outputs, rows, first, count, bias, accumulate);
}

void ps_avx512_attention_head(const float *q, const float *k, const float *v, size_t stride, float *out, size_t out_stride,
                              size_t queries, size_t keys, size_t width, float scale, long causal_first, float *scratch) {
    attention_head(q, k, v, stride, out, out_stride, queries, keys, width, scale, causal_first, scratch);
}

#pragma clang attribute pop

const ps_kernels ps_avx512_kernels = {
    .linear_packed = linear_packed,
    .gelu = ps_gelu_avx2,
    .gelu_tanh = ps_gelu_tanh_avx2,
    .quick_gelu = ps_quick_gelu_avx2,
    .attention_head = attention_head,
    .dot_u8 = ps_dot_u8_avx2,
    .dot_u4 = ps_dot_u4_avx2,
    .quantize_rows = ps_avx512_quantize_rows_s8,
    .linear_q8 = linear_q8,
};

#endif
