#include "CKernels.h"

#include <math.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

static float dot_portable(const float *a, const float *b, size_t n) {
    float sum = 0;
    for (size_t i = 0; i < n; i++) sum += a[i] * b[i];
    return sum;
}

static void axpy_portable(float alpha, const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += alpha * x[i];
}

#if defined(__x86_64__)
#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static float dot_avx2(const float *a, const float *b, size_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    __m256 s = _mm256_add_ps(s0, s1);
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    float sum = _mm_cvtss_f32(x);
    for (; i < n; i++) sum += a[i] * b[i];
    return sum;
}

AVX2 static void axpy_avx2(float alpha, const float *x, float *y, size_t n) {
    __m256 a = _mm256_set1_ps(alpha);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(a, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += alpha * x[i];
}
#endif

void ps_attention_head(const float *q, const float *k, const float *v, size_t stride,
                       float *out, size_t out_stride, size_t queries, size_t keys, size_t width,
                       float scale, long causal_first, float *scratch) {
    float (*dot)(const float *, const float *, size_t) = dot_portable;
    void (*axpy)(float, const float *, float *, size_t) = axpy_portable;
#if defined(__x86_64__)
    if (ps_kernels_use_avx2()) {
        dot = dot_avx2;
        axpy = axpy_avx2;
    }
#endif
    for (size_t i = 0; i < queries; i++) {
        const float *query = q + i * stride;
        size_t visible = keys;
        if (causal_first >= 0 && (size_t)causal_first + i + 1 < keys) visible = (size_t)causal_first + i + 1;
        float maximum = -INFINITY;
        for (size_t j = 0; j < visible; j++) {
            float score = scale * dot(query, k + j * stride, width);
            scratch[j] = score;
            if (score > maximum) maximum = score;
        }
        float total = 0;
        for (size_t j = 0; j < visible; j++) {
            float e = expf(scratch[j] - maximum);
            scratch[j] = e;
            total += e;
        }
        float inverse = 1.0f / total;
        float *target = out + i * out_stride;
        for (size_t c = 0; c < width; c++) target[c] = 0;
        for (size_t j = 0; j < visible; j++) axpy(scratch[j] * inverse, v + j * stride, target, width);
    }
}
