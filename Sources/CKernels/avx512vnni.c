// The AVX-512 VNNI level (Cascade Lake, Ice Lake, Zen 4 and later): the AVX-512
// level with its int8 product through vpdpbusd, 64 multiply-adds per
// instruction. vpdpbusd multiplies unsigned by signed bytes, so activations
// are stored as q + 128 and 128 · Σw is taken off each sum (exact).
#include "internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

void ps_avx512_quantize_rows_u8(const float *x, size_t ldx, size_t rows, size_t inputs, size_t padded, uint8_t *q,
                                float *scales);
void ps_avx512_linear_packed(const float *a, size_t lda, const float *packed, size_t inputs, float *c, size_t ldc,
                             size_t outputs, size_t rows, size_t first, size_t count, const float *bias, int accumulate);
void ps_avx512_attention_head(const float *q, const float *k, const float *v, size_t stride, float *out, size_t out_stride,
                              size_t queries, size_t keys, size_t width, float scale, long causal_first, float *scratch);

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma"))), apply_to = function)

void ps_avx512_store_q8(__m512i sums, float row_scale, const float *column_scales, const float *bias, float *target,
                        size_t width, int accumulate);

static inline __mmask16 columns_mask(size_t width) {
    return width >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << width) - 1);
}

// `mr` rows (1-12) × `np` panels (1 or 2).
static inline __attribute__((always_inline))
void block_q8(const uint8_t *q, const float *row_scales, size_t padded, const int8_t *panel, const float *column_scales,
              const int32_t *column_sums, float *c, size_t ldc, size_t width, const float *bias, int accumulate,
              const int mr, const int np) {
    __m512i acc0[12], acc1[12];
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
            acc0[r] = _mm512_dpbusd_epi32(acc0[r], a, w0);
            if (np == 2) acc1[r] = _mm512_dpbusd_epi32(acc1[r], a, w1);
        }
    }
    __mmask16 m0 = columns_mask(width), m1 = columns_mask(width > 16 ? width - 16 : 0);
    __m512i offset0 = _mm512_slli_epi32(_mm512_maskz_loadu_epi32(m0, column_sums), 7);   // 128 · Σw
    __m512i offset1 = np == 2 ? _mm512_slli_epi32(_mm512_maskz_loadu_epi32(m1, column_sums + 16), 7) : offset0;
    for (int r = 0; r < mr; r++) {
        float *target = c + (size_t)r * ldc;
        ps_avx512_store_q8(_mm512_sub_epi32(acc0[r], offset0), row_scales[r], column_scales, bias, target,
                           width < 16 ? width : 16, accumulate);
        if (np == 2) {
            ps_avx512_store_q8(_mm512_sub_epi32(acc1[r], offset1), row_scales[r], column_scales + 16,
                               bias ? bias + 16 : NULL, target + 16, width - 16, accumulate);
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

static void linear_q8(const uint8_t *q, const float *row_scales, size_t rows, size_t padded, const int8_t *packed,
                      const float *column_scales, const int32_t *column_sums, float *c, size_t ldc, size_t outputs,
                      size_t first, size_t count, const float *bias, int accumulate) {
    size_t end = first + count < outputs ? first + count : outputs;
    for (size_t row = 0; row < rows; row += PS_ROW_CHUNK) {
        size_t chunk = rows - row < PS_ROW_CHUNK ? rows - row : PS_ROW_CHUNK;
        for (size_t column = first; column < end; column += 2 * PS_PANEL) {
            const int8_t *panel = packed + (column / PS_PANEL) * padded * PS_PANEL;
            size_t width = end - column < 2 * PS_PANEL ? end - column : 2 * PS_PANEL;
            for (size_t i = 0; i < chunk;) {
                size_t left = chunk - i;
                int mr = left >= 12 ? 12 : left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
                const uint8_t *qr = q + (row + i) * padded;
                float *cr = c + (row + i) * ldc + column;
#define PS_CALL(m, n) block_q8(qr, row_scales + row + i, padded, panel, column_scales + column, column_sums + column, \
                               cr, ldc, width, bias ? bias + column : NULL, accumulate, m, n)
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

#pragma clang attribute pop

const ps_kernels ps_avx512_vnni_kernels = {
    .linear_packed = ps_avx512_linear_packed,
    .gelu = ps_gelu_avx2,
    .gelu_tanh = ps_gelu_tanh_avx2,
    .quick_gelu = ps_quick_gelu_avx2,
    .attention_head = ps_avx512_attention_head,
    .dot_u8 = ps_dot_u8_avx2,
    .dot_u4 = ps_dot_u4_avx2,
    .quantize_rows = ps_avx512_quantize_rows_u8,
    .linear_q8 = linear_q8,
};

#endif
