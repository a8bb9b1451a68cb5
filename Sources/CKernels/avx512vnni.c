// The AVX-512 VNNI level (Cascade Lake, Ice Lake, Zen 4 and later): the AVX-512
// level with its int8 product through vpdpbusd, 64 multiply-adds per
// instruction, in a 6 × 64 register-blocked micro-kernel. vpdpbusd multiplies
// unsigned by signed bytes: activations are stored as u, and zero · Σw is
// taken off each sum (exact).
#include "internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

void ps_avx512_quantize_rows_u8(const float *x, size_t ldx, size_t rows, size_t inputs, size_t padded, uint8_t *q,
                                float *scales, int32_t *offsets);
void ps_avx512_linear_packed(const float *a, size_t lda, const float *packed, size_t inputs, float *c, size_t ldc,
                             size_t outputs, size_t rows, size_t first, size_t count, const float *bias, int accumulate);
void ps_avx512_attention_head(const float *q, const float *k, const float *v, size_t stride, float *out, size_t out_stride,
                              size_t queries, size_t keys, size_t width, float scale, long causal_first, float *scratch);
void ps_avx512_activate_quantize_rows_u8(const float *x, size_t ldx, size_t rows, size_t inputs, size_t padded,
                                         ps_activation activation, uint8_t *q, float *scales, int32_t *offsets);
void ps_avx512_layer_norm(const float *x, float *y, size_t rows, size_t width, const float *weight, const float *bias,
                          float epsilon);
void ps_avx512_gelu(float *x, size_t count);
void ps_avx512_gelu_tanh(float *x, size_t count);
void ps_avx512_quick_gelu(float *x, size_t count);

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma"))), apply_to = function)

#include "avx512_inline.h"

#define columns_mask ps512_columns_mask

// `mr` rows (1-6) × `np` panels (1-4: up to 64 outputs): per group of 4
// inputs, `np` weight loads and `mr` broadcasts feed mr · np vpdpbusd
// (24 at full size, in 24 accumulators).
static inline __attribute__((always_inline))
void block_q8(const uint8_t *q, const float *row_scales, const int32_t *row_offsets, size_t padded, const int8_t *panel,
              const float *column_scales, const int32_t *column_sums, float *c, size_t ldc, size_t width, const float *bias,
              int accumulate, const int mr, const int np) {
    __m512i acc[6][4];
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++) {
#pragma clang loop unroll(full)
        for (int p = 0; p < np; p++) acc[r][p] = _mm512_setzero_si512();
    }
    const size_t panel_bytes = padded * PS_PANEL;
    for (size_t g = 0; g < padded / PS_Q8_GROUP; g++) {
        __m512i w[4];
#pragma clang loop unroll(full)
        for (int p = 0; p < np; p++) w[p] = _mm512_loadu_si512(panel + (size_t)p * panel_bytes + g * 64);
#pragma clang loop unroll(full)
        for (int r = 0; r < mr; r++) {
            int32_t four;
            memcpy(&four, q + (size_t)r * padded + g * 4, 4);
            __m512i a = _mm512_set1_epi32(four);
#pragma clang loop unroll(full)
            for (int p = 0; p < np; p++) acc[r][p] = _mm512_dpbusd_epi32(acc[r][p], a, w[p]);
        }
    }
#pragma clang loop unroll(full)
    for (int p = 0; p < np; p++) {
        size_t first = 16 * (size_t)p, part = width > first ? width - first : 0;
        __m512i sums = _mm512_maskz_loadu_epi32(columns_mask(part), column_sums + first);
#pragma clang loop unroll(full)
        for (int r = 0; r < mr; r++) {
            ps512_store_q8(ps512_corrected(acc[r][p], row_offsets[r], sums), row_scales[r], column_scales + first,
                           bias ? bias + first : NULL, c + (size_t)r * ldc + first, part < 16 ? part : 16, accumulate);
        }
    }
}

#define PS_Q8_ROWS(np)                                                                                                  \
    switch (mr) {                                                                                                      \
    case 6: PS_CALL(6, np); break;                                                                                     \
    case 5: PS_CALL(5, np); break;                                                                                     \
    case 4: PS_CALL(4, np); break;                                                                                     \
    case 3: PS_CALL(3, np); break;                                                                                     \
    case 2: PS_CALL(2, np); break;                                                                                     \
    default: PS_CALL(1, np); break;                                                                                    \
    }

static inline int rows_step6(size_t left) { return left < 6 ? (int)left : 6; }

static inline __attribute__((always_inline)) void q8_tile(const void *args, ps_tile t) {
    const ps_q8_product *p = args;
    const int8_t *panel = p->packed + (t.column / PS_PANEL) * p->padded * PS_PANEL;
    const uint8_t *qr = p->q + t.row * p->padded;
    float *cr = p->c + t.row * p->ldc + t.column;
    int mr = t.rows, np = (int)((t.width + PS_PANEL - 1) / PS_PANEL);
#define PS_CALL(m, n) block_q8(qr, p->row_scales + t.row, p->row_offsets + t.row, p->padded, panel, p->column_scales + t.column, \
                               p->column_sums + t.column, cr, p->ldc, t.width, p->bias ? p->bias + t.column : NULL, p->accumulate, m, n)
    switch (np) {
    case 4: PS_Q8_ROWS(4); break;
    case 3: PS_Q8_ROWS(3); break;
    case 2: PS_Q8_ROWS(2); break;
    default: PS_Q8_ROWS(1); break;
    }
#undef PS_CALL
}

static void linear_q8(const uint8_t *q, const float *row_scales, const int32_t *row_offsets, size_t rows, size_t padded,
                      const int8_t *packed, const float *column_scales, const int32_t *column_sums, float *c, size_t ldc,
                      size_t outputs, size_t first, size_t count, const float *bias, int accumulate) {
    ps_q8_product product = {q, packed, row_scales, row_offsets, column_scales, column_sums, bias, c, padded, ldc, accumulate};
    ps_linear_tiles(rows, outputs, first, count, 4 * PS_PANEL, rows_step6, q8_tile, &product);
}

#pragma clang attribute pop

const ps_kernels ps_avx512_vnni_kernels = {
    .linear_packed = ps_avx512_linear_packed,
    .gelu = ps_avx512_gelu,
    .gelu_tanh = ps_avx512_gelu_tanh,
    .quick_gelu = ps_avx512_quick_gelu,
    .attention_head = ps_avx512_attention_head,
    .attention_head_reduced = ps_avx512_attention_head,
    .layer_norm = ps_avx512_layer_norm,
    .dot_halves = ps_dot_halves_avx2,
    .dot_u4 = ps_dot_u4_avx2,
    .quantize_rows = ps_avx512_quantize_rows_u8,
    .activate_quantize_rows = ps_avx512_activate_quantize_rows_u8,
    .linear_q8 = linear_q8,
    .depthwise_convolution = ps_avx512_depthwise_convolution,
};

#endif
