#include "CKernels.h"

#include <math.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

static void dot_u8_portable(const int8_t *query, const uint8_t *vectors, size_t rows, size_t dimension, int32_t *out) {
    for (size_t i = 0; i < rows; i++) {
        const uint8_t *v = vectors + i * dimension;
        int32_t sum = 0;
        for (size_t k = 0; k < dimension; k++) sum += (int32_t)query[k] * (int32_t)v[k];
        out[i] = sum;
    }
}

static void dot_u4_portable(const int8_t *query, const uint8_t *vectors, size_t rows, size_t dimension, int32_t *out) {
    size_t bytes = dimension / 2;
    for (size_t i = 0; i < rows; i++) {
        const uint8_t *v = vectors + i * bytes;
        int32_t sum = 0;
        for (size_t block = 0; block < dimension / 64; block++) {
            for (size_t j = 0; j < 32; j++) {
                uint8_t byte = v[block * 32 + j];
                sum += (int32_t)query[block * 64 + j] * (byte & 15) + (int32_t)query[block * 64 + 32 + j] * (byte >> 4);
            }
        }
        out[i] = sum;
    }
}

#if defined(__x86_64__)
#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static inline int32_t sum_epi32(__m256i x) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

// 32 unsigned bytes × 32 signed bytes: pairwise into int16 (vpmaddubsw, exact
// for |q| ≤ 63), then pairs of int16 into int32 (vpmaddwd).
AVX2 static inline __m256i dot32(__m256i v, __m256i q, __m256i ones) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(v, q), ones);
}

AVX2 static void dot_u8_avx2(const int8_t *query, const uint8_t *vectors, size_t rows, size_t dimension, int32_t *out) {
    const __m256i ones = _mm256_set1_epi16(1);
    size_t blocks = dimension / 32;
    size_t i = 0;
    // Four rows at a time: each query block is loaded once for four vectors.
    for (; i + 4 <= rows; i += 4) {
        const uint8_t *v0 = vectors + i * dimension, *v1 = v0 + dimension, *v2 = v1 + dimension, *v3 = v2 + dimension;
        __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();
        __m256i a2 = _mm256_setzero_si256(), a3 = _mm256_setzero_si256();
        for (size_t b = 0; b < blocks; b++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(query + b * 32));
            a0 = _mm256_add_epi32(a0, dot32(_mm256_loadu_si256((const __m256i *)(v0 + b * 32)), q, ones));
            a1 = _mm256_add_epi32(a1, dot32(_mm256_loadu_si256((const __m256i *)(v1 + b * 32)), q, ones));
            a2 = _mm256_add_epi32(a2, dot32(_mm256_loadu_si256((const __m256i *)(v2 + b * 32)), q, ones));
            a3 = _mm256_add_epi32(a3, dot32(_mm256_loadu_si256((const __m256i *)(v3 + b * 32)), q, ones));
        }
        int32_t s0 = sum_epi32(a0), s1 = sum_epi32(a1), s2 = sum_epi32(a2), s3 = sum_epi32(a3);
        for (size_t k = blocks * 32; k < dimension; k++) {
            s0 += query[k] * v0[k];
            s1 += query[k] * v1[k];
            s2 += query[k] * v2[k];
            s3 += query[k] * v3[k];
        }
        out[i] = s0;
        out[i + 1] = s1;
        out[i + 2] = s2;
        out[i + 3] = s3;
    }
    for (; i < rows; i++) {
        const uint8_t *v = vectors + i * dimension;
        __m256i a = _mm256_setzero_si256();
        for (size_t b = 0; b < blocks; b++) {
            a = _mm256_add_epi32(a, dot32(_mm256_loadu_si256((const __m256i *)(v + b * 32)),
                                          _mm256_loadu_si256((const __m256i *)(query + b * 32)), ones));
        }
        int32_t s = sum_epi32(a);
        for (size_t k = blocks * 32; k < dimension; k++) s += query[k] * v[k];
        out[i] = s;
    }
}

// 64 dimensions from 32 bytes of nibbles.
AVX2 static inline __m256i dot64_u4(__m256i packed, __m256i q_low, __m256i q_high, __m256i mask, __m256i ones) {
    __m256i low = _mm256_and_si256(packed, mask);
    __m256i high = _mm256_and_si256(_mm256_srli_epi16(packed, 4), mask);
    __m256i pairs = _mm256_add_epi16(_mm256_maddubs_epi16(low, q_low), _mm256_maddubs_epi16(high, q_high));
    return _mm256_madd_epi16(pairs, ones);
}

AVX2 static void dot_u4_avx2(const int8_t *query, const uint8_t *vectors, size_t rows, size_t dimension, int32_t *out) {
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
    if (i < rows) dot_u4_portable(query, vectors + i * bytes, rows - i, dimension, out + i);
}

#endif

void ps_dot_u4(const int8_t *query, const uint8_t *vectors, size_t rows, size_t dimension, int32_t *out) {
#if defined(__x86_64__)
    if (ps_kernels_use_avx2()) {
        dot_u4_avx2(query, vectors, rows, dimension, out);
        return;
    }
#endif
    dot_u4_portable(query, vectors, rows, dimension, out);
}
void ps_dot_u8(const int8_t *query, const uint8_t *vectors, size_t rows, size_t dimension, int32_t *out) {
#if defined(__x86_64__)
    if (ps_kernels_use_avx2()) {
        dot_u8_avx2(query, vectors, rows, dimension, out);
        return;
    }
#endif
    dot_u8_portable(query, vectors, rows, dimension, out);
}

float ps_quantize(const float *values, size_t count, int limit, int8_t *out) {
    float largest = 0;
    for (size_t i = 0; i < count; i++) {
        float magnitude = fabsf(values[i]);
        if (magnitude > largest) largest = magnitude;
    }
    float scale = largest > 0 ? largest / (float)limit : 1.0f;
    float inverse = 1.0f / scale;
    for (size_t i = 0; i < count; i++) {
        float q = nearbyintf(values[i] * inverse);
        if (q > limit) q = (float)limit;
        if (q < -limit) q = (float)-limit;
        out[i] = (int8_t)q;
    }
    return scale;
}
