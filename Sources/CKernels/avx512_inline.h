// Inline pieces both AVX-512 levels compile into their kernels; included
// inside each file's target region, so they get the file's instruction set.
#ifndef PHOTOSEARCH_CKERNELS_AVX512_INLINE_H
#define PHOTOSEARCH_CKERNELS_AVX512_INLINE_H

#include <immintrin.h>

// An int8 product's operands (see ps_kernels.linear_q8), for its tiles.
typedef struct {
    const uint8_t *q;
    const int8_t *packed;
    const float *row_scales;
    const int32_t *row_offsets;
    const float *column_scales;
    const int32_t *column_sums;
    const float *bias;
    float *c;
    size_t padded, ldc;
    int accumulate;
} ps_q8_product;

static inline __mmask16 ps512_columns_mask(size_t width) {
    return width >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << width) - 1);
}

// Σ q·w − row_offset · Σ w: the exact integer correction for the rows'
// zero points (see ps_kernels.linear_q8).
static inline __attribute__((always_inline))
__m512i ps512_corrected(__m512i sums, int32_t row_offset, __m512i column_sums) {
    return _mm512_sub_epi32(sums, _mm512_mullo_epi32(_mm512_set1_epi32(row_offset), column_sums));
}

// The int8 product's epilogue for 16 corrected sums of one row (see ps_q8_result:
// multiply, then adds, in that order, as at every level). Inline: a call
// here would make the compiler spill the micro-kernel's accumulators.
static inline __attribute__((always_inline))
void ps512_store_q8(__m512i sums, float row_scale, const float *column_scales, const float *bias, float *target,
                    size_t width, int accumulate) {
    __mmask16 m = ps512_columns_mask(width);
    __m512 scale = _mm512_mul_ps(_mm512_set1_ps(row_scale), _mm512_maskz_loadu_ps(m, column_scales));
    __m512 value = _mm512_mul_ps(_mm512_cvtepi32_ps(sums), scale);
    if (bias) value = _mm512_add_ps(value, _mm512_maskz_loadu_ps(m, bias));
    if (accumulate) value = _mm512_add_ps(value, _mm512_maskz_loadu_ps(m, target));
    _mm512_mask_storeu_ps(target, m, value);
}

// Sixteen rows of 16 floats in, their 16 columns out (unpack within
// 128-bit lanes, then two rounds of lane shuffles).
static inline void ps512_transpose16(__m512 rows[16], __m512 columns[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(rows[2 * i], rows[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(rows[2 * i], rows[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
        __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
        // u[4i + c] lane L: column 4L + c of rows 4i ... 4i + 3.
        u[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    for (int c = 0; c < 4; c++) {
        __m512 v0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88), v1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xDD);
        __m512 v2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88), v3 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xDD);
        columns[c] = _mm512_shuffle_f32x4(v0, v2, 0x88);
        columns[8 + c] = _mm512_shuffle_f32x4(v0, v2, 0xDD);
        columns[4 + c] = _mm512_shuffle_f32x4(v1, v3, 0x88);
        columns[12 + c] = _mm512_shuffle_f32x4(v1, v3, 0xDD);
    }
}

// The largest of a row's first `visible` scores, in every lane (-inf when
// there are none): what softmax subtracts before e^x.
static inline __m512 ps512_row_maximum(const float *s, size_t visible) {
    __m512 largest = _mm512_set1_ps(-INFINITY);
    for (size_t j = 0; j < visible; j += 16) {
        largest = _mm512_mask_max_ps(largest, ps512_columns_mask(visible - j), largest, _mm512_loadu_ps(s + j));
    }
    return _mm512_set1_ps(_mm512_reduce_max_ps(largest));
}

#endif
