#include "CKernels.h"

#include <math.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// Portable versions: libm, one value at a time.

static void gelu_portable(float *x, size_t count) {
    for (size_t i = 0; i < count; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

static void gelu_tanh_portable(float *x, size_t count) {
    for (size_t i = 0; i < count; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v)));
    }
}

static void quick_gelu_portable(float *x, size_t count) {
    for (size_t i = 0; i < count; i++) x[i] = x[i] / (1.0f + expf(-1.702f * x[i]));
}

#if defined(__x86_64__)
#define AVX2 __attribute__((target("avx2,fma")))

// e^x to about one ulp: x = n·ln2 + r with |r| ≤ ln2/2, e^r by Cephes' expf
// minimax polynomial, 2^n put into the exponent bits. Inputs are clamped to
// [-87.3, 88.7], where the result is still a normal float.
AVX2 static inline __m256 exp_avx2(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.7f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i exponent = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(exponent));
}

// erf(z) = 1 - erfc(|z|) with sign, erfc by the Chebyshev fit of Numerical
// Recipes (erfcc, fractional error below 1.2e-7 everywhere).
AVX2 static inline __m256 erf_avx2(__m256 z) {
    __m256 sign = _mm256_and_ps(z, _mm256_set1_ps(-0.0f));
    __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), z);
    __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(_mm256_set1_ps(0.5f), a, _mm256_set1_ps(1.0f)));
    __m256 p = _mm256_set1_ps(0.17087277f);
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.82215223f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.48851587f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.13520398f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.27886807f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.18628806f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.09678418f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.37409196f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.00002368f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.26551223f));
    __m256 exponent = _mm256_fnmadd_ps(a, a, p);  // -a² + p
    __m256 erfc = _mm256_mul_ps(t, exp_avx2(exponent));
    return _mm256_or_ps(_mm256_sub_ps(_mm256_set1_ps(1.0f), erfc), sign);
}

AVX2 static void gelu_avx2(float *x, size_t count) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 e = erf_avx2(_mm256_mul_ps(v, _mm256_set1_ps(0.70710678118654752f)));
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), v), _mm256_add_ps(_mm256_set1_ps(1.0f), e)));
    }
    gelu_portable(x + i, count - i);
}

AVX2 static void gelu_tanh_avx2(float *x, size_t count) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 cube = _mm256_mul_ps(_mm256_mul_ps(v, v), v);
        __m256 u = _mm256_mul_ps(_mm256_set1_ps(0.79788456080286536f), _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), cube, v));
        // 1 + tanh(u) = 2 - 2 / (e^{2u} + 1)
        __m256 e = exp_avx2(_mm256_add_ps(u, u));
        __m256 onePlusTanh = _mm256_sub_ps(_mm256_set1_ps(2.0f),
                                           _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, _mm256_set1_ps(1.0f))));
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), v), onePlusTanh));
    }
    gelu_tanh_portable(x + i, count - i);
}

AVX2 static void quick_gelu_avx2(float *x, size_t count) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 e = exp_avx2(_mm256_mul_ps(v, _mm256_set1_ps(-1.702f)));
        _mm256_storeu_ps(x + i, _mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1.0f), e)));
    }
    quick_gelu_portable(x + i, count - i);
}
#endif

void ps_gelu(float *x, size_t count) {
#if defined(__x86_64__)
    if (ps_kernels_use_avx2()) { gelu_avx2(x, count); return; }
#endif
    gelu_portable(x, count);
}

void ps_gelu_tanh(float *x, size_t count) {
#if defined(__x86_64__)
    if (ps_kernels_use_avx2()) { gelu_tanh_avx2(x, count); return; }
#endif
    gelu_tanh_portable(x, count);
}

void ps_quick_gelu(float *x, size_t count) {
#if defined(__x86_64__)
    if (ps_kernels_use_avx2()) { quick_gelu_avx2(x, count); return; }
#endif
    quick_gelu_portable(x, count);
}
